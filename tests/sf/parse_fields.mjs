// Parses RateLimit-Policy and RateLimit (draft-ietf-httpapi-ratelimit-headers-11: each a
// Structured Field List of Items) with an RFC 8941 parser, and prints them as JSON for the test
// to check: [{"name": ..., "params": {...}}, ...] per field. Exits 1 on a parse error.
//   node parse_fields.mjs '<RateLimit-Policy value>' '<RateLimit value>'
import { parseList } from 'structured-headers';

function items(field) {
  return parseList(field).map(([value, params]) => {
    if (typeof value !== 'string') throw new Error(`item ${JSON.stringify(value)} is not a String`);
    return { name: value, params: Object.fromEntries(params) };
  });
}

try {
  console.log(JSON.stringify({ policy: items(process.argv[2]), ratelimit: items(process.argv[3]) }));
} catch (e) {
  console.error(`not a valid structured field: ${e.message}`);
  process.exit(1);
}
