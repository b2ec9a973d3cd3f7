//! The redb store's write-ahead log: the effects of each group commit,
//! appended and synced (one `fdatasync` of a few kilobytes) before the
//! batch's non-durable redb commit makes them visible. redb itself writes
//! its pages durably only at a checkpoint, after which the log starts over.
//!
//! File layout: a header (`MAGIC`, then a random 64-bit generation, little
//! endian), then records: payload length (u32), CRC-32 of the generation and
//! payload (u32), payload. A payload is a sequence of effects:
//! `1 key_len:u32 key exp:i64 value_len:u32 value` (put) or
//! `2 key_len:u32 key` (remove). Reading stops at the first record that is
//! cut short or fails its checksum: that batch never finished its sync, so
//! no caller was told it succeeded. A new generation after each checkpoint
//! keeps a stale tail of the previous log from being read as new records.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"DIDWAL01";
/// Bytes of the file header: an empty log is this long.
pub const HEADER: usize = 16;
const PUT: u8 = 1;
const REMOVE: u8 = 2;

/// One change the log replays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect<'a> {
    Put {
        key: &'a str,
        expires_at: i64,
        value: &'a [u8],
    },
    Remove {
        key: &'a str,
    },
}

/// Bytes [`Wal::append`] fills in before a record's payload.
pub const RECORD_HEADER: usize = 8;

/// Empties `buf` for a new record: its header's place, then no effects.
pub fn start(buf: &mut Vec<u8>) {
    buf.clear();
    buf.resize(RECORD_HEADER, 0);
}

/// Whether the record in `buf` (begun with [`start`]) holds no effect.
pub fn is_empty(buf: &[u8]) -> bool {
    buf.len() <= RECORD_HEADER
}

/// Appends `effect` to a record being built (begun with [`start`]).
pub fn encode(buf: &mut Vec<u8>, effect: &Effect<'_>) {
    match effect {
        Effect::Put {
            key,
            expires_at,
            value,
        } => {
            buf.push(PUT);
            put_bytes(buf, key.as_bytes());
            buf.extend_from_slice(&expires_at.to_le_bytes());
            put_bytes(buf, value);
        }
        Effect::Remove { key } => {
            buf.push(REMOVE);
            put_bytes(buf, key.as_bytes());
        }
    }
}

fn put_bytes(buf: &mut Vec<u8>, b: &[u8]) {
    buf.extend_from_slice(&(b.len() as u32).to_le_bytes());
    buf.extend_from_slice(b);
}

/// The effects of one record payload, in order.
pub fn decode(mut p: &[u8]) -> Result<Vec<Effect<'_>>, String> {
    fn take<'a>(p: &mut &'a [u8], n: usize) -> Result<&'a [u8], String> {
        if p.len() < n {
            return Err("write-ahead log record is cut short".into());
        }
        let (head, rest) = p.split_at(n);
        *p = rest;
        Ok(head)
    }
    fn len(p: &mut &[u8]) -> Result<usize, String> {
        Ok(u32::from_le_bytes(take(p, 4)?.try_into().unwrap_or_default()) as usize)
    }
    fn key<'a>(p: &mut &'a [u8]) -> Result<&'a str, String> {
        let n = len(p)?;
        std::str::from_utf8(take(p, n)?).map_err(|_| "write-ahead log key is not UTF-8".into())
    }
    let mut out = Vec::new();
    while let Some((&tag, rest)) = p.split_first() {
        p = rest;
        out.push(match tag {
            PUT => {
                let key = key(&mut p)?;
                let expires_at =
                    i64::from_le_bytes(take(&mut p, 8)?.try_into().unwrap_or_default());
                let n = len(&mut p)?;
                Effect::Put {
                    key,
                    expires_at,
                    value: take(&mut p, n)?,
                }
            }
            REMOVE => Effect::Remove { key: key(&mut p)? },
            t => return Err(format!("write-ahead log holds an unknown effect tag {t}")),
        });
    }
    Ok(out)
}

/// The open log.
pub struct Wal {
    file: File,
    path: PathBuf,
    generation: u64,
    len: u64,
}

impl Wal {
    /// Opens the log at `path` (creating it) and returns it with the payloads
    /// of its complete records, oldest first, for the caller to replay. The
    /// caller must [`reset`](Self::reset) it once the replayed effects are
    /// durable in the database, before appending.
    pub fn open(path: &Path) -> Result<(Wal, Vec<Vec<u8>>), String> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let records = records(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        let wal = Wal {
            file,
            path: path.to_owned(),
            generation: 0,
            len: bytes.len() as u64,
        };
        Ok((wal, records))
    }

    /// Bytes in the log (header included).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the log holds records not yet checkpointed.
    pub fn has_records(&self) -> bool {
        self.len > HEADER as u64
    }

    /// Appends the record built in `rec` (begun with [`start`]) and syncs
    /// it: when this returns `Ok`, the record survives a crash.
    pub fn append(&mut self, rec: &mut [u8]) -> Result<(), String> {
        let (header, payload) = rec.split_at_mut(RECORD_HEADER);
        let len = u32::try_from(payload.len())
            .map_err(|_| "a write-ahead log record over 4 GiB".to_owned())?;
        header[..4].copy_from_slice(&len.to_le_bytes());
        header[4..].copy_from_slice(&checksum(self.generation, payload).to_le_bytes());
        self.file
            .write_all(rec)
            .and_then(|()| self.file.sync_data())
            .map_err(|e| format!("{}: {e}", self.path.display()))?;
        self.len += rec.len() as u64;
        Ok(())
    }

    /// Empties the log under a new generation. Call it only when every
    /// record is durable in the database.
    pub fn reset(&mut self) -> Result<(), String> {
        let generation = u64::from_le_bytes(crate::crypto::random_bytes::<8>());
        let mut header = [0u8; HEADER];
        header[..8].copy_from_slice(MAGIC);
        header[8..].copy_from_slice(&generation.to_le_bytes());
        self.file
            .set_len(0)
            .and_then(|()| self.file.seek(SeekFrom::Start(0)))
            .and_then(|_| self.file.write_all(&header))
            .and_then(|()| self.file.sync_data())
            .map_err(|e| format!("{}: {e}", self.path.display()))?;
        self.generation = generation;
        self.len = HEADER as u64;
        Ok(())
    }
}

fn checksum(generation: u64, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&generation.to_le_bytes());
    h.update(payload);
    h.finalize()
}

/// The complete records of a log file's bytes.
fn records(bytes: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    // Shorter than a header: the crash came between emptying the log and
    // writing its new header, when everything was already checkpointed.
    if bytes.len() < HEADER {
        return Ok(Vec::new());
    }
    if &bytes[..8] != MAGIC {
        return Err("not a digital-id write-ahead log".into());
    }
    let generation = u64::from_le_bytes(bytes[8..HEADER].try_into().unwrap_or_default());
    let mut out = Vec::new();
    let mut rest = &bytes[HEADER..];
    while rest.len() >= 8 {
        let n = u32::from_le_bytes(rest[..4].try_into().unwrap_or_default()) as usize;
        let crc = u32::from_le_bytes(rest[4..8].try_into().unwrap_or_default());
        let Some(payload) = rest.get(8..8 + n) else {
            break;
        };
        if checksum(generation, payload) != crc {
            break;
        }
        out.push(payload.to_vec());
        rest = &rest[8 + n..];
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(effects: &[Effect<'_>]) -> Vec<u8> {
        let mut b = Vec::new();
        for e in effects {
            encode(&mut b, e);
        }
        b
    }

    /// A new, empty log at `path`.
    fn fresh(path: &Path) -> Wal {
        let (mut wal, found) = Wal::open(path).unwrap();
        assert!(found.is_empty());
        wal.reset().unwrap();
        wal
    }

    fn append(wal: &mut Wal, payload: &[u8]) {
        let mut rec = Vec::new();
        start(&mut rec);
        assert!(is_empty(&rec));
        rec.extend_from_slice(payload);
        wal.append(&mut rec).unwrap();
    }

    #[test]
    fn effects_round_trip() {
        let effects = [
            Effect::Put {
                key: "nonce\0abc",
                expires_at: 1_700_000_300,
                value: b"",
            },
            Effect::Remove { key: "nonce\0abc" },
            Effect::Put {
                key: "credential\0\u{444}",
                expires_at: i64::MAX,
                value: &[0, 1, 2, 255],
            },
        ];
        assert_eq!(decode(&payload(&effects)).unwrap(), effects);
    }

    #[test]
    fn a_payload_cut_short_or_with_an_unknown_tag_is_an_error() {
        let p = payload(&[Effect::Put {
            key: "k",
            expires_at: 1,
            value: b"value",
        }]);
        for cut in 1..p.len() {
            assert!(decode(&p[..cut]).is_err(), "cut at {cut}");
        }
        assert!(decode(&[9, 0, 0, 0, 0]).is_err());
    }

    #[test]
    fn records_survive_reopen_and_a_torn_tail_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.redb-wal");
        let mut wal = fresh(&path);
        assert!(!wal.has_records());
        append(&mut wal, b"first");
        append(&mut wal, b"second");
        assert!(wal.has_records());
        drop(wal);
        // A third record whose sync never finished: only part of it is there.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&[20, 0, 0, 0, 1, 2, 3, 4, b't', b'o']).unwrap();
        drop(f);
        let (_, found) = Wal::open(&path).unwrap();
        assert_eq!(found, vec![b"first".to_vec(), b"second".to_vec()]);
    }

    #[test]
    fn a_corrupted_record_ends_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal");
        let mut wal = fresh(&path);
        append(&mut wal, b"one");
        append(&mut wal, b"two");
        append(&mut wal, b"three");
        drop(wal);
        let mut bytes = std::fs::read(&path).unwrap();
        // Flip a byte of the second record's payload.
        bytes[HEADER + 8 + 3 + 8] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        let (_, found) = Wal::open(&path).unwrap();
        assert_eq!(found, vec![b"one".to_vec()]);
    }

    #[test]
    fn records_of_an_earlier_generation_are_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal");
        let mut wal = fresh(&path);
        append(&mut wal, b"old record, already checkpointed");
        let old = std::fs::read(&path).unwrap();
        wal.reset().unwrap();
        append(&mut wal, b"new");
        drop(wal);
        // The emptying did not reach the disk but the new header and record
        // did: the old generation's tail follows them.
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend_from_slice(&old[bytes.len()..]);
        std::fs::write(&path, &bytes).unwrap();
        let (_, found) = Wal::open(&path).unwrap();
        assert_eq!(found, vec![b"new".to_vec()]);
    }

    #[test]
    fn a_foreign_file_is_refused_and_an_empty_one_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal");
        std::fs::write(&path, b"something else entirely").unwrap();
        assert!(Wal::open(&path).is_err());
        std::fs::write(&path, b"DIDWAL").unwrap();
        assert!(Wal::open(&path).unwrap().1.is_empty());
    }
}
