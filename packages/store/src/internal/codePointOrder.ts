/**
 * Orders strings by Unicode code point, which is the order SQLite (BINARY) and
 * PostgreSQL (COLLATE "C") give UTF-8 text, so every adapter lists streams in
 * the same order. Plain `<` compares UTF-16 code units and would disagree for
 * characters outside the Basic Multilingual Plane.
 */
export function compareCodePoints(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
