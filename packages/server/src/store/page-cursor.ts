import { StoreError } from "./store-error.js";

/** Default and largest page sizes of list reads. */
export const PAGE_LIMITS = { default: 100, max: 1000 } as const;

/** Clamps a requested page size to 1…{@link PAGE_LIMITS}.max. */
export function toPageLimit(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return PAGE_LIMITS.default;
  return Math.min(PAGE_LIMITS.max, Math.max(1, Math.trunc(limit)));
}

/** Parses a cursor over a bigserial id; `store.invalid_cursor` when it is not one. */
export function toSerialCursor(cursor: string): string {
  if (!/^[0-9]{1,18}$/.test(cursor))
    throw new StoreError("store.invalid_cursor", "the cursor is not one this list handed out", {
      cursor,
    });
  return cursor;
}
