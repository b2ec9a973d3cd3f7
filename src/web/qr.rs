//! QR codes as SVG (qrcode's renderer) and PNG (a minimal grayscale PNG
//! encoder over flate2: one IHDR, one IDAT, IEND — no image crate needed).

use qrcode::{Color, EcLevel, QrCode};

/// Pixels per module in PNGs, and the quiet zone in modules (ISO 18004).
const SCALE: usize = 6;
const QUIET: usize = 4;

/// Why a QR could not be made (the text is too long for version 40).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the text does not fit in a QR code")]
pub struct TooLong;

/// The smallest code for `text` at error correction level M (L for long text).
pub fn code(text: &str) -> Result<QrCode, TooLong> {
    QrCode::with_error_correction_level(text, EcLevel::M)
        .or_else(|_| QrCode::with_error_correction_level(text, EcLevel::L))
        .map_err(|_| TooLong)
}

/// The QR version (1–40) `text` needs, as measured for the README.
pub fn version(text: &str) -> Result<i16, TooLong> {
    match code(text)?.version() {
        qrcode::Version::Normal(v) | qrcode::Version::Micro(v) => Ok(v),
    }
}

pub fn svg(text: &str) -> Result<String, TooLong> {
    Ok(code(text)?
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(256, 256)
        .quiet_zone(true)
        .build())
}

pub fn png(text: &str) -> Result<Vec<u8>, TooLong> {
    let code = code(text)?;
    let n = code.width();
    let colors = code.to_colors();
    let side = (n + 2 * QUIET) * SCALE;
    let mut raw = Vec::with_capacity((side + 1) * side);
    for y in 0..side {
        raw.push(0); // filter: none
        let my = (y / SCALE).checked_sub(QUIET).filter(|&m| m < n);
        for x in 0..side {
            let mx = (x / SCALE).checked_sub(QUIET).filter(|&m| m < n);
            let dark =
                matches!((mx, my), (Some(mx), Some(my)) if colors[my * n + mx] == Color::Dark);
            raw.push(if dark { 0 } else { 255 });
        }
    }
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut z, &raw).map_err(|_| TooLong)?;
    let idat = z.finish().map_err(|_| TooLong)?;
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let side = u32::try_from(side).map_err(|_| TooLong)?;
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&side.to_be_bytes());
    ihdr.extend_from_slice(&side.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]); // 8-bit grayscale, no interlace
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &idat);
    chunk(&mut out, b"IEND", &[]);
    Ok(out)
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc = flate2::Crc::new();
    crc.update(kind);
    crc.update(data);
    out.extend_from_slice(&crc.sum().to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_has_valid_structure_and_crc() {
        let png = png("openid4vp://?client_id=x&request_uri=y").unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        // IHDR CRC over type + data.
        let mut crc = flate2::Crc::new();
        crc.update(&png[12..29]);
        assert_eq!(&png[29..33], &crc.sum().to_be_bytes());
        assert!(png.ends_with(&[0xAE, 0x42, 0x60, 0x82]), "IEND CRC");
    }

    #[test]
    fn svg_and_version() {
        assert!(svg("hello").unwrap().starts_with("<?xml"));
        assert!(version(&"x".repeat(120)).unwrap() <= 8);
        assert_eq!(code(&"x".repeat(5000)).err(), Some(TooLong));
    }
}
