import type { Position } from "./input-issues.js";

/**
 * Indexes the line starts of a text once and returns a function from an offset (in UTF-16 code
 * units) to its 1-based line and column.
 *
 * @example createLineIndex("a\nbc")(3) // { line: 2, column: 2 }
 */
export function createLineIndex(text: string): (offset: number) => Position {
  const starts = [0];
  for (let index = text.indexOf("\n"); index !== -1; index = text.indexOf("\n", index + 1)) {
    starts.push(index + 1);
  }
  return (offset) => {
    const clamped = Math.max(0, Math.min(offset, text.length));
    let low = 0;
    let high = starts.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if ((starts[middle] ?? 0) <= clamped) low = middle;
      else high = middle - 1;
    }
    return { line: low + 1, column: clamped - (starts[low] ?? 0) + 1 };
  };
}
