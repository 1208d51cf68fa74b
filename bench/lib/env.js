// The benchmarks' settings from the environment: a mistyped one stops the run rather than measure something else.

/**
 * The positive number in environment variable `name`, or `fallback` when it is unset or empty; exits with
 * status 2 for anything else. `integer` also refuses fractions (counts, rounds).
 * @param {string} name
 * @param {number} fallback
 * @param {{ integer?: boolean }} [options]
 */
export function envNumber(name, fallback, { integer = true } = {}) {
  const value = process.env[name];
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!(integer ? Number.isInteger(n) : Number.isFinite(n)) || n <= 0) {
    console.error(`${name}=${value} is not a positive ${integer ? 'integer' : 'number'}`);
    process.exit(2);
  }
  return n;
}
