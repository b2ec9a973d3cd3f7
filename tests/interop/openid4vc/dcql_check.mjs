#!/usr/bin/env node
// DCQL conformance vectors computed by the npm package `dcql` (OpenWallet Foundation, pinned in
// package.json): every SD-JWT-relevant DCQL example query of OpenID4VP 1.0 (final) — the
// #dcql_query_example, the request-object and encrypted-response examples of §5/§8 and the
// Appendix "Examples for DCQL Queries" (openid/OpenID4VP 1.0/examples/query_lang/*.json,
// copied verbatim below) — plus targeted vectors (values matching, claim_sets, credential_sets,
// claims path pointers with null wildcards / indices, our own presets), each evaluated against a
// small set of SD-JWT VC candidates given as processed claims.
//
//   node tests/interop/openid4vc/dcql_check.mjs            # regenerates dcql_vectors.json
//   node tests/interop/openid4vc/dcql_check.mjs --check    # fails if the committed file differs
//
// Output: dcql_vectors.json, an array of
//   {name, source, query, credentials: [{id, format: "dc+sd-jwt", vct, claims}],
//    result: {can_be_satisfied, matches: {"<credential query id>": [indices into credentials]}},
//    detail: {claim_sets?: {"<query id>": {"<credential index>": <first satisfied claim_set index>}},
//             credential_sets?: [{required, matching_options}]},
//    spec_result?, note?}   <- only where dcql departs from the spec text (see README); a
//                              spec-conformant matcher should equal `spec_result ?? result`.
// `matches` lists, for EVERY credential query id, the candidates that satisfy that query on its
// own (meta + claims/claim_sets); `can_be_satisfied` applies the credential_sets rules on top.
// Every candidate has cryptographic holder binding (cnf) — it is not part of the fixture.
//
// Deterministic: no randomness, no clock, no network. The script also compares each result with
// the `expect` written by hand from the spec text and exits 1 on a disagreement, so a change of
// the library's semantics cannot slip silently into the fixture.

import { readFileSync, writeFileSync } from 'node:fs';
import { DcqlQuery } from 'dcql';

const OUT = new URL('./dcql_vectors.json', import.meta.url);
const DCQL_VERSION = JSON.parse(readFileSync(new URL('./node_modules/dcql/package.json', import.meta.url), 'utf8')).version;

// ------------------------------------------------------------------------------------------------
// Candidate credentials

const ID_VCT = 'https://credentials.example.com/identity_credential';
const arthur = {
  id: 'identity_arthur',
  format: 'dc+sd-jwt',
  vct: ID_VCT,
  claims: {
    given_name: 'Arthur',
    family_name: 'Dent',
    address: { street_address: '42 Market Street', locality: 'Milliways', postal_code: '12345' },
    date_of_birth: '1952-03-11',
    nationalities: ['British', 'Betelgeusian'],
    degrees: [
      { type: 'Bachelor of Science', university: 'University of Betelgeuse' },
      { type: 'Master of Science', university: 'University of Betelgeuse' },
    ],
  },
};
const arthurNoStreet = {
  id: 'identity_no_street',
  format: 'dc+sd-jwt',
  vct: ID_VCT,
  claims: { given_name: 'Ford', family_name: 'Prefect', address: { locality: 'Guildford' } },
};
const otherPid = {
  id: 'other_pid',
  format: 'dc+sd-jwt',
  vct: 'https://othercredentials.example/pid',
  claims: { given_name: 'Tricia', family_name: 'McMillan', address: { street_address: '1 Islington Road' } },
};
const reduced1 = {
  id: 'reduced_identity',
  format: 'dc+sd-jwt',
  vct: 'https://credentials.example.com/reduced_identity_credential',
  claims: { family_name: 'Dent', given_name: 'Arthur' },
};
const residence = {
  id: 'residence',
  format: 'dc+sd-jwt',
  vct: 'https://cred.example/residence_credential',
  claims: { postal_code: '12345', locality: 'Milliways', region: 'Outer Rim' },
};
const rewards = {
  id: 'rewards',
  format: 'dc+sd-jwt',
  vct: 'https://company.example/company_rewards',
  claims: { rewards_number: 'RW-42' },
};
const flat = (id, claims) => ({ id, format: 'dc+sd-jwt', vct: ID_VCT, claims });

// Our documents (DESIGN.md "Documents"): processed claims as a holder sees them.
const PASSPORT = 'urn:ru:digital-id:passport:1';
const PENSIONER = 'urn:ru:digital-id:pensioner-status:1';
const LICENCE = 'urn:ru:digital-id:driving-licence:1';
const passport = (id, over = {}) => ({
  id,
  format: 'dc+sd-jwt',
  vct: PASSPORT,
  claims: {
    family_name: 'Иванов',
    given_name: 'Иван',
    patronymic: 'Иванович',
    sex: 'male',
    birthdate: '1985-04-12',
    place_of_birth: 'г. Москва',
    nationality: 'RU',
    document_number: '4509 123456',
    issue_date: '2020-05-20',
    issuing_authority: 'ГУ МВД России по г. Москве',
    issuing_authority_code: '770-001',
    resident_address: { region: 'г. Москва', locality: 'Москва', street_address: 'ул. Тверская, д. 1, кв. 1' },
    age_equal_or_over: { 14: true, 16: true, 18: true, 21: true, 65: false },
    age_in_years: 40,
    age_birth_year: 1985,
    ...over,
  },
});
const teenPassport = passport('passport_minor', {
  birthdate: '2010-01-01',
  age_equal_or_over: { 14: true, 16: false, 18: false, 21: false, 65: false },
  age_in_years: 16,
  age_birth_year: 2010,
});
const pensioner = {
  id: 'pensioner_status',
  format: 'dc+sd-jwt',
  vct: PENSIONER,
  claims: { family_name: 'Петрова', given_name: 'Анна', patronymic: 'Сергеевна', birthdate: '1958-02-01', pensioner: true, pension_type: 'old_age', pension_since: '2018-02-01' },
};
const licence = {
  id: 'driving_licence',
  format: 'dc+sd-jwt',
  vct: LICENCE,
  claims: {
    family_name: 'Иванов',
    given_name: 'Иван',
    patronymic: 'Иванович',
    document_number: '99 01 123456',
    driving_privileges: [
      { category: 'B', issue_date: '2005-06-01', expiry_date: '2035-06-01' },
      { category: 'C', issue_date: '2010-06-01', expiry_date: '2035-06-01' },
    ],
  },
};

// ------------------------------------------------------------------------------------------------
// Queries: OpenID4VP 1.0 examples, verbatim

const SPEC = {
  simple: {
    credentials: [
      {
        id: 'my_credential',
        format: 'dc+sd-jwt',
        meta: { vct_values: [ID_VCT] },
        claims: [{ path: ['family_name'] }, { path: ['given_name'] }, { path: ['address', 'street_address'] }],
      },
    ],
  },
  request_object_by_value: {
    credentials: [
      {
        id: 'some_identity_credential',
        format: 'dc+sd-jwt',
        meta: { vct_values: [ID_VCT] },
        claims: [{ path: ['family_name'] }, { path: ['given_name'] }],
      },
    ],
  },
  encrypted_response: {
    credentials: [
      {
        id: 'my_credential',
        format: 'dc+sd-jwt',
        meta: { vct_values: [ID_VCT] },
        claims: [{ path: ['family_name'] }, { path: ['given_name'] }, { path: ['address', 'postal_code'] }],
      },
    ],
  },
  simple_mdoc: {
    credentials: [
      {
        id: 'my_credential',
        format: 'mso_mdoc',
        meta: { doctype_value: 'org.iso.7367.1.mVRC' },
        claims: [{ path: ['org.iso.7367.1', 'vehicle_holder'] }, { path: ['org.iso.18013.5.1', 'given_name'] }],
      },
    ],
  },
  multi_credentials: {
    credentials: [
      {
        id: 'pid',
        format: 'dc+sd-jwt',
        meta: { vct_values: [ID_VCT] },
        claims: [{ path: ['given_name'] }, { path: ['family_name'] }, { path: ['address', 'street_address'] }],
      },
      {
        id: 'mdl',
        format: 'mso_mdoc',
        meta: { doctype_value: 'org.iso.7367.1.mVRC' },
        claims: [{ path: ['org.iso.7367.1', 'vehicle_holder'] }, { path: ['org.iso.18013.5.1', 'given_name'] }],
      },
    ],
  },
  credentials_alternatives: {
    credentials: [
      {
        id: 'pid',
        format: 'dc+sd-jwt',
        meta: { vct_values: [ID_VCT] },
        claims: [{ path: ['given_name'] }, { path: ['family_name'] }, { path: ['address', 'street_address'] }],
      },
      {
        id: 'other_pid',
        format: 'dc+sd-jwt',
        meta: { vct_values: ['https://othercredentials.example/pid'] },
        claims: [{ path: ['given_name'] }, { path: ['family_name'] }, { path: ['address', 'street_address'] }],
      },
      {
        id: 'pid_reduced_cred_1',
        format: 'dc+sd-jwt',
        meta: { vct_values: ['https://credentials.example.com/reduced_identity_credential'] },
        claims: [{ path: ['family_name'] }, { path: ['given_name'] }],
      },
      {
        id: 'pid_reduced_cred_2',
        format: 'dc+sd-jwt',
        meta: { vct_values: ['https://cred.example/residence_credential'] },
        claims: [{ path: ['postal_code'] }, { path: ['locality'] }, { path: ['region'] }],
      },
      {
        id: 'nice_to_have',
        format: 'dc+sd-jwt',
        meta: { vct_values: ['https://company.example/company_rewards'] },
        claims: [{ path: ['rewards_number'] }],
      },
    ],
    credential_sets: [
      { options: [['pid'], ['other_pid'], ['pid_reduced_cred_1', 'pid_reduced_cred_2']] },
      { required: false, options: [['nice_to_have']] },
    ],
  },
  complex_mdoc: {
    credentials: [
      {
        id: 'mdl-id',
        format: 'mso_mdoc',
        meta: { doctype_value: 'org.iso.18013.5.1.mDL' },
        claims: [
          { id: 'given_name', path: ['org.iso.18013.5.1', 'given_name'] },
          { id: 'family_name', path: ['org.iso.18013.5.1', 'family_name'] },
          { id: 'portrait', path: ['org.iso.18013.5.1', 'portrait'] },
        ],
      },
      {
        id: 'mdl-address',
        format: 'mso_mdoc',
        meta: { doctype_value: 'org.iso.18013.5.1.mDL' },
        claims: [
          { id: 'resident_address', path: ['org.iso.18013.5.1', 'resident_address'] },
          { id: 'resident_country', path: ['org.iso.18013.5.1', 'resident_country'] },
        ],
      },
      {
        id: 'photo_card-id',
        format: 'mso_mdoc',
        meta: { doctype_value: 'org.iso.23220.photoid.1' },
        claims: [
          { id: 'given_name', path: ['org.iso.18013.5.1', 'given_name'] },
          { id: 'family_name', path: ['org.iso.18013.5.1', 'family_name'] },
          { id: 'portrait', path: ['org.iso.18013.5.1', 'portrait'] },
        ],
      },
      {
        id: 'photo_card-address',
        format: 'mso_mdoc',
        meta: { doctype_value: 'org.iso.23220.photoid.1' },
        claims: [
          { id: 'resident_address', path: ['org.iso.18013.5.1', 'resident_address'] },
          { id: 'resident_country', path: ['org.iso.18013.5.1', 'resident_country'] },
        ],
      },
    ],
    credential_sets: [
      { options: [['mdl-id'], ['photo_card-id']] },
      { required: false, options: [['mdl-address'], ['photo_card-address']] },
    ],
  },
  claims_alternatives: {
    credentials: [
      {
        id: 'pid',
        format: 'dc+sd-jwt',
        meta: { vct_values: [ID_VCT] },
        claims: [
          { id: 'a', path: ['family_name'] },
          { id: 'b', path: ['postal_code'] },
          { id: 'c', path: ['locality'] },
          { id: 'd', path: ['region'] },
          { id: 'e', path: ['date_of_birth'] },
        ],
        claim_sets: [
          ['a', 'c', 'd', 'e'],
          ['a', 'b', 'e'],
        ],
      },
    ],
  },
  value_matching_simple: {
    credentials: [
      {
        id: 'my_credential',
        format: 'dc+sd-jwt',
        meta: { vct_values: [ID_VCT] },
        claims: [
          { path: ['family_name'], values: ['Doe'] },
          { path: ['given_name'] },
          { path: ['address', 'street_address'] },
          { path: ['postal_code'], values: ['90210', '90211'] },
        ],
      },
    ],
  },
};
const SRC = (anchor, file) => `OpenID4VP 1.0 ${anchor}${file ? ` (1.0/examples/query_lang/${file})` : ''}`;

const q1 = (id, vcts, claims, extra = {}) => ({
  credentials: [{ id, format: 'dc+sd-jwt', meta: { vct_values: vcts }, ...(claims ? { claims } : {}), ...extra }],
});

// ------------------------------------------------------------------------------------------------
// Vectors: {name, source, query, credentials, expect: {can, matches}}

const VECTORS = [
  {
    name: 'spec_simple',
    source: SRC('#dcql_query_example', 'simple.json'),
    query: SPEC.simple,
    credentials: [arthur, arthurNoStreet, otherPid],
    expect: { can: true, matches: { my_credential: [0] } },
  },
  {
    name: 'spec_request_object_by_value',
    source: 'OpenID4VP 1.0 #vp_token_request Examples (request object passed by value)',
    query: SPEC.request_object_by_value,
    credentials: [otherPid, arthurNoStreet, arthur],
    expect: { can: true, matches: { some_identity_credential: [1, 2] } },
  },
  {
    name: 'spec_encrypted_response_query_no_match',
    source: 'OpenID4VP 1.0 #response_encryption example request',
    query: SPEC.encrypted_response,
    credentials: [arthurNoStreet, otherPid],
    expect: { can: false, matches: { my_credential: [] } },
  },
  {
    name: 'spec_encrypted_response_query',
    source: 'OpenID4VP 1.0 #response_encryption example request',
    query: SPEC.encrypted_response,
    credentials: [arthurNoStreet, arthur],
    expect: { can: true, matches: { my_credential: [1] } },
  },
  {
    name: 'spec_simple_mdoc_vs_sd_jwt_only',
    source: SRC('#more_dcql_query_examples', 'simple_mdoc.json'),
    query: SPEC.simple_mdoc,
    credentials: [arthur],
    expect: { can: false, matches: { my_credential: [] } },
  },
  {
    name: 'spec_multi_credentials_mdoc_missing',
    source: SRC('#more_dcql_query_examples', 'multi_credentials.json'),
    query: SPEC.multi_credentials,
    credentials: [arthur, otherPid],
    expect: { can: false, matches: { pid: [0], mdl: [] } },
  },
  {
    name: 'spec_credentials_alternatives_pid_and_optional',
    source: SRC('#more_dcql_query_examples', 'credentials_alternatives.json'),
    query: SPEC.credentials_alternatives,
    credentials: [arthur, rewards, otherPid],
    expect: { can: true, matches: { pid: [0], other_pid: [2], pid_reduced_cred_1: [], pid_reduced_cred_2: [], nice_to_have: [1] } },
  },
  {
    name: 'spec_credentials_alternatives_reduced_pair',
    source: SRC('#more_dcql_query_examples', 'credentials_alternatives.json'),
    query: SPEC.credentials_alternatives,
    credentials: [residence, reduced1],
    expect: { can: true, matches: { pid: [], other_pid: [], pid_reduced_cred_1: [1], pid_reduced_cred_2: [0], nice_to_have: [] } },
  },
  {
    name: 'spec_credentials_alternatives_half_option',
    source: SRC('#more_dcql_query_examples', 'credentials_alternatives.json'),
    query: SPEC.credentials_alternatives,
    credentials: [reduced1, rewards],
    expect: { can: false, matches: { pid: [], other_pid: [], pid_reduced_cred_1: [0], pid_reduced_cred_2: [], nice_to_have: [1] } },
  },
  {
    name: 'spec_credentials_alternatives_only_optional',
    source: SRC('#more_dcql_query_examples', 'credentials_alternatives.json'),
    query: SPEC.credentials_alternatives,
    credentials: [rewards],
    expect: { can: false, matches: { pid: [], other_pid: [], pid_reduced_cred_1: [], pid_reduced_cred_2: [], nice_to_have: [0] } },
  },
  {
    name: 'spec_complex_mdoc_vs_sd_jwt_only',
    source: SRC('#more_dcql_query_examples', 'complex_mdoc.json'),
    query: SPEC.complex_mdoc,
    credentials: [arthur],
    expect: { can: false, matches: { 'mdl-id': [], 'mdl-address': [], 'photo_card-id': [], 'photo_card-address': [] } },
  },
  {
    name: 'spec_claims_alternatives_first_set',
    source: SRC('#more_dcql_query_examples', 'claims_alternatives.json'),
    query: SPEC.claims_alternatives,
    credentials: [flat('first_set', { family_name: 'Dent', postal_code: '12345', locality: 'Milliways', region: 'Outer Rim', date_of_birth: '1952-03-11' })],
    expect: { can: true, matches: { pid: [0] }, claim_sets: { pid: { 0: 0 } } },
  },
  {
    name: 'spec_claims_alternatives_second_set',
    source: SRC('#more_dcql_query_examples', 'claims_alternatives.json'),
    query: SPEC.claims_alternatives,
    credentials: [
      flat('no_region', { family_name: 'Dent', postal_code: '12345', locality: 'Milliways', date_of_birth: '1952-03-11' }),
      flat('no_postal_code', { family_name: 'Dent', locality: 'Milliways', date_of_birth: '1952-03-11' }),
    ],
    expect: { can: true, matches: { pid: [0] }, claim_sets: { pid: { 0: 1 } } },
  },
  {
    name: 'spec_claims_alternatives_none',
    source: SRC('#more_dcql_query_examples', 'claims_alternatives.json'),
    query: SPEC.claims_alternatives,
    credentials: [flat('no_birth_date', { family_name: 'Dent', postal_code: '12345', locality: 'Milliways', region: 'Outer Rim' })],
    expect: { can: false, matches: { pid: [] } },
  },
  {
    name: 'spec_value_matching_simple',
    source: SRC('#more_dcql_query_examples', 'value_matching_simple.json'),
    query: SPEC.value_matching_simple,
    credentials: [
      flat('doe_90210', { family_name: 'Doe', given_name: 'John', address: { street_address: '1 Main St' }, postal_code: '90210' }),
      flat('doe_10001', { family_name: 'Doe', given_name: 'Jane', address: { street_address: '2 Main St' }, postal_code: '10001' }),
      flat('smith_90211', { family_name: 'Smith', given_name: 'Sam', address: { street_address: '3 Main St' }, postal_code: '90211' }),
      flat('doe_90211_int', { family_name: 'Doe', given_name: 'Joe', address: { street_address: '4 Main St' }, postal_code: 90211 }),
      flat('doe_90211', { family_name: 'Doe', given_name: 'Jim', address: { street_address: '5 Main St' }, postal_code: '90211' }),
    ],
    expect: { can: true, matches: { my_credential: [0, 4] } },
  },
  // -------- values: type and value must both match
  {
    name: 'values_integer_and_boolean_strict_types',
    source: 'OpenID4VP 1.0 #claims_query (values: type and value match exactly)',
    query: {
      credentials: [
        {
          id: 'adult',
          format: 'dc+sd-jwt',
          meta: { vct_values: [PASSPORT] },
          claims: [{ path: ['age_equal_or_over', '18'], values: [true] }],
        },
        {
          id: 'forty',
          format: 'dc+sd-jwt',
          meta: { vct_values: [PASSPORT] },
          claims: [{ path: ['age_in_years'], values: [40] }],
        },
        {
          id: 'forty_as_string',
          format: 'dc+sd-jwt',
          meta: { vct_values: [PASSPORT] },
          claims: [{ path: ['age_in_years'], values: ['40'] }],
        },
      ],
    },
    credentials: [teenPassport, passport('passport_adult')],
    expect: { can: false, matches: { adult: [1], forty: [1], forty_as_string: [] } },
  },
  // -------- claims path pointers
  {
    name: 'path_null_wildcard_nested',
    source: 'OpenID4VP 1.0 #claims_path_pointer_example ["degrees", null, "type"]',
    query: q1('degrees', [ID_VCT], [{ path: ['degrees', null, 'type'] }]),
    credentials: [arthur, arthurNoStreet, flat('degrees_without_type', { degrees: [{ university: 'X' }] })],
    expect: { can: true, matches: { degrees: [0] } },
  },
  // -------- claims path pointer edge cases where `dcql` departs from OpenID4VP 1.0 §7.1.1
  // (processing step 3: an empty selection is an error; step 2.1: a non-object under a string
  // component is an error). `result` is dcql's answer, `spec_result` the spec's.
  {
    name: 'path_null_wildcard_empty_array',
    source: 'OpenID4VP 1.0 #claims_path_pointer processing step 3 (empty selection -> error)',
    query: q1('degrees', [ID_VCT], [{ path: ['degrees', null, 'type'] }]),
    credentials: [flat('empty_degrees', { degrees: [] }), arthur],
    expect: { can: true, matches: { degrees: [1] } },
    dcql_deviation: { note: 'dcql 3.0.0 treats a null wildcard over an empty array as a match', can: true, matches: { degrees: [0, 1] } },
  },
  {
    name: 'path_null_wildcard_values_empty_array',
    source: 'OpenID4VP 1.0 #claims_path_pointer + #claims_query values',
    query: q1('british', [ID_VCT], [{ path: ['nationalities', null], values: ['British'] }]),
    credentials: [flat('no_nationalities', { nationalities: [] })],
    expect: { can: false, matches: { british: [] } },
    dcql_deviation: { note: 'dcql 3.0.0 matches `values` vacuously over an empty array', can: true, matches: { british: [0] } },
  },
  {
    name: 'path_null_wildcard_mixed_array',
    source: 'OpenID4VP 1.0 #claims_path_pointer processing step 2.1 (a selected element that is not an object -> error)',
    query: q1('types', [ID_VCT], [{ path: ['degrees', null, 'type'] }]),
    credentials: [flat('mixed', { degrees: ['honorary', { type: 'BSc' }] }), flat('objects_one_without_type', { degrees: [{ type: 'BSc' }, { university: 'X' }] })],
    expect: { can: true, matches: { types: [1] } },
    dcql_deviation: { note: 'dcql 3.0.0 skips non-object array elements instead of failing the pointer', can: true, matches: { types: [0, 1] } },
  },
  {
    name: 'path_claim_with_null_value',
    source: 'OpenID4VP 1.0 #claims_path_pointer processing step 2.1 (the key exists: its value, null, is selected)',
    query: q1('middle_name', [ID_VCT], [{ path: ['middle_name'] }]),
    credentials: [flat('null_middle_name', { middle_name: null }), flat('no_middle_name', { given_name: 'X' }), flat('empty_middle_name', { middle_name: '' })],
    expect: { can: true, matches: { middle_name: [0, 2] } },
    dcql_deviation: { note: 'dcql 3.0.0 treats a claim whose value is null as absent', can: true, matches: { middle_name: [2] } },
  },
  {
    name: 'path_array_index',
    source: 'OpenID4VP 1.0 #claims_path_pointer_example ["nationalities", 1]',
    query: q1('second_nationality', [ID_VCT], [{ path: ['nationalities', 1] }]),
    credentials: [flat('one_nationality', { nationalities: ['British'] }), arthur],
    expect: { can: true, matches: { second_nationality: [1] } },
  },
  {
    name: 'path_whole_object',
    source: 'OpenID4VP 1.0 #claims_path_pointer_example ["address"]',
    query: q1('address', [ID_VCT], [{ path: ['address'] }]),
    credentials: [flat('no_address', { given_name: 'X' }), arthurNoStreet],
    expect: { can: true, matches: { address: [1] } },
  },
  {
    name: 'path_null_wildcard_with_values',
    source: 'OpenID4VP 1.0 #claims_path_pointer + #selecting_claims (values on a wildcard path)',
    query: q1('british', [ID_VCT], [{ path: ['nationalities', null], values: ['British'] }]),
    credentials: [flat('french', { nationalities: ['French'] }), arthur, flat('scalar_nationalities', { nationalities: 'British' })],
    expect: { can: true, matches: { british: [1] } },
  },
  {
    name: 'path_type_mismatch_is_no_match',
    source: 'OpenID4VP 1.0 #claims_path_pointer processing (non-array under an index / null -> error)',
    query: {
      credentials: [
        { id: 'index_into_object', format: 'dc+sd-jwt', meta: { vct_values: [ID_VCT] }, claims: [{ path: ['address', 0] }] },
        { id: 'key_into_array', format: 'dc+sd-jwt', meta: { vct_values: [ID_VCT] }, claims: [{ path: ['nationalities', 'first'] }] },
        { id: 'wildcard_into_object', format: 'dc+sd-jwt', meta: { vct_values: [ID_VCT] }, claims: [{ path: ['address', null] }] },
      ],
    },
    credentials: [arthur],
    expect: { can: false, matches: { index_into_object: [], key_into_array: [], wildcard_into_object: [] } },
  },
  {
    name: 'driving_privileges_category_b',
    source: 'ru.driving_licence: array of objects, null wildcard + values',
    query: q1('licence_b', [LICENCE], [{ path: ['driving_privileges', null, 'category'], values: ['B'] }, { path: ['family_name'] }]),
    credentials: [passport('passport'), licence, { ...licence, id: 'licence_c_only', claims: { ...licence.claims, driving_privileges: [licence.claims.driving_privileges[1]] } }],
    expect: { can: true, matches: { licence_b: [1] } },
  },
  // -------- meta, no claims, multiple
  {
    name: 'no_claims_meta_only',
    source: 'OpenID4VP 1.0 #selecting_claims (claims absent: only mandatory parts)',
    query: q1('any_passport', [PASSPORT, 'urn:ru:digital-id:passport:2']),
    credentials: [pensioner, passport('passport'), licence],
    expect: { can: true, matches: { any_passport: [1] } },
  },
  {
    name: 'multiple_true_lists_every_match',
    source: 'OpenID4VP 1.0 #credential_query (multiple)',
    query: q1('passports', [PASSPORT], [{ path: ['document_number'] }], { multiple: true }),
    credentials: [passport('passport_a'), pensioner, passport('passport_b', { document_number: '4510 654321' })],
    expect: { can: true, matches: { passports: [0, 2] } },
  },
  {
    name: 'vct_mismatch',
    source: 'OpenID4VP 1.0 #sd_jwt_vc_meta_parameter (vct_values)',
    query: q1('pensioner', [PENSIONER], [{ path: ['pensioner'] }]),
    credentials: [passport('passport'), licence],
    expect: { can: false, matches: { pensioner: [] } },
  },
  // -------- our presets (DESIGN.md), as DCQL
  {
    name: 'preset_age_over_18',
    source: 'digital-id preset age_over_18',
    query: q1('passport', [PASSPORT], [{ path: ['age_equal_or_over', '18'] }]),
    credentials: [teenPassport, passport('passport_adult'), pensioner],
    expect: { can: true, matches: { passport: [0, 1] } },
  },
  {
    name: 'preset_hotel_check_in_missing_address',
    source: 'digital-id preset hotel_check_in',
    query: q1('passport', [PASSPORT], ['family_name', 'given_name', 'patronymic', 'birthdate', 'document_number', 'issue_date', 'issuing_authority', 'resident_address'].map((n) => ({ path: [n] }))),
    credentials: [(() => {
      const p = passport('passport_no_address');
      delete p.claims.resident_address;
      return p;
    })(), passport('passport_full')],
    expect: { can: true, matches: { passport: [1] } },
  },
  {
    name: 'preset_pensioner_status',
    source: 'digital-id preset pensioner_status',
    query: q1('pensioner', [PENSIONER], ['family_name', 'given_name', 'patronymic', 'pensioner'].map((n) => ({ path: [n] }))),
    credentials: [passport('passport'), pensioner],
    expect: { can: true, matches: { pensioner: [1] } },
  },
  // -------- credential_sets + claim_sets combined
  {
    name: 'credential_sets_required_and_optional_claim_sets',
    source: 'OpenID4VP 1.0 #credential_set_query + #selecting_claims',
    query: {
      credentials: [
        {
          id: 'age_proof',
          format: 'dc+sd-jwt',
          meta: { vct_values: [PASSPORT] },
          claims: [
            { id: 'over18', path: ['age_equal_or_over', '18'], values: [true] },
            { id: 'birthdate', path: ['birthdate'] },
          ],
          claim_sets: [['over18'], ['birthdate']],
        },
        { id: 'pension', format: 'dc+sd-jwt', meta: { vct_values: [PENSIONER] }, claims: [{ path: ['pensioner'], values: [true] }] },
        { id: 'licence', format: 'dc+sd-jwt', meta: { vct_values: [LICENCE] }, claims: [{ path: ['document_number'] }] },
      ],
      credential_sets: [
        { options: [['age_proof'], ['licence']] },
        { required: false, options: [['pension']] },
      ],
    },
    credentials: [teenPassport, passport('passport_adult'), licence],
    expect: { can: true, matches: { age_proof: [0, 1], pension: [], licence: [2] }, claim_sets: { age_proof: { 0: 1, 1: 0 } } },
  },
  {
    name: 'credential_sets_required_unsatisfied',
    source: 'OpenID4VP 1.0 #credential_set_query (required defaults to true)',
    query: {
      credentials: [
        { id: 'pension', format: 'dc+sd-jwt', meta: { vct_values: [PENSIONER] }, claims: [{ path: ['pensioner'] }] },
        { id: 'passport', format: 'dc+sd-jwt', meta: { vct_values: [PASSPORT] }, claims: [{ path: ['family_name'] }] },
      ],
      credential_sets: [{ options: [['pension']] }, { required: false, options: [['passport']] }],
    },
    credentials: [passport('passport')],
    expect: { can: false, matches: { pension: [], passport: [0] } },
  },
];

// ------------------------------------------------------------------------------------------------

function toDcqlCredential(c) {
  return { credential_format: c.format, vct: c.vct, claims: c.claims, cryptographic_holder_binding: true };
}

function evaluate(v) {
  const parsed = DcqlQuery.parse(v.query);
  DcqlQuery.validate(parsed);
  const r = DcqlQuery.query(parsed, v.credentials.map(toDcqlCredential));
  const matches = {};
  const claimSets = {};
  for (const cq of parsed.credentials) {
    const m = r.credential_matches[cq.id];
    const valid = m?.success ? (m.valid_credentials ?? []) : [];
    matches[cq.id] = valid.map((c) => c.input_credential_index).sort((a, b) => a - b);
    if (cq.claim_sets) {
      for (const c of valid) {
        const idx = (c.claims?.valid_claim_sets ?? []).map((s) => s.claim_set_index).sort((a, b) => a - b)[0];
        (claimSets[cq.id] ??= {})[String(c.input_credential_index)] = idx;
      }
    }
  }
  const detail = {};
  if (Object.keys(claimSets).length) detail.claim_sets = claimSets;
  if (r.credential_sets) detail.credential_sets = r.credential_sets.map((s) => ({ required: s.required, matching_options: s.matching_options ?? [] }));
  return { result: { can_be_satisfied: r.can_be_satisfied, matches }, detail };
}

const stable = (o) => JSON.stringify(o, Object.keys(o).sort());
const out = [];
const disagreements = [];
const names = new Set();
for (const v of VECTORS) {
  if (names.has(v.name)) throw new Error(`duplicate vector name ${v.name}`);
  names.add(v.name);
  const { result, detail } = evaluate(v);
  // dcql must give the spec's answer, or exactly the known deviation (so a fix upstream shows up).
  const exp = v.dcql_deviation ?? v.expect;
  const bad = [];
  if (result.can_be_satisfied !== exp.can) bad.push(`can_be_satisfied ${result.can_be_satisfied} (expected ${exp.can})`);
  if (stable(result.matches) !== stable(exp.matches) || JSON.stringify(Object.keys(result.matches).sort()) !== JSON.stringify(Object.keys(exp.matches).sort())) {
    bad.push(`matches ${JSON.stringify(result.matches)} (expected ${JSON.stringify(exp.matches)})`);
  }
  for (const [qid, per] of Object.entries(exp.claim_sets ?? {})) {
    for (const [ci, si] of Object.entries(per)) {
      if (detail.claim_sets?.[qid]?.[ci] !== si) bad.push(`claim set for ${qid}/${ci} = ${detail.claim_sets?.[qid]?.[ci]} (expected ${si})`);
    }
  }
  if (bad.length) disagreements.push(`${v.name}: ${bad.join('; ')}`);
  const entry = { name: v.name, source: v.source, query: v.query, credentials: v.credentials, result, detail };
  if (v.dcql_deviation) {
    entry.spec_result = { can_be_satisfied: v.expect.can, matches: v.expect.matches };
    entry.note = `${v.dcql_deviation.note}; spec_result is OpenID4VP 1.0's answer — a spec-conformant matcher should agree with spec_result`;
  }
  out.push(entry);
}

const text = `${JSON.stringify(out, null, 2)}\n`;
if (disagreements.length) {
  process.stderr.write(`dcql (${DCQL_VERSION}) disagrees with the hand-written expectations:\n  ${disagreements.join('\n  ')}\n`);
  process.exitCode = 1;
} else if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(OUT, 'utf8');
  } catch {
    /* missing */
  }
  if (current !== text) {
    process.stderr.write('dcql_vectors.json is stale: run node tests/interop/openid4vc/dcql_check.mjs\n');
    process.exitCode = 1;
  } else {
    process.stdout.write(`${out.length} passed, 0 failed\n`);
  }
} else {
  writeFileSync(OUT, text);
  process.stdout.write(`wrote ${out.length} vectors to ${OUT.pathname} (dcql ${DCQL_VERSION})\n`);
}
