import { describe, expect, it } from 'vitest';
import { ResponseBytes } from './response-bytes.ts';

describe('ResponseBytes: a response kept as its parts, copied once into the frame', () => {
  const parts = [Buffer.from('head'), Buffer.alloc(0), Buffer.from('shared-base'), Buffer.from('own')];

  it('copies every part in order at the offset, as Buffer#copy does (grpc-js frames at offset 5)', () => {
    const r = new ResponseBytes(parts);
    expect(r.byteLength).toBe(Buffer.concat(parts).length);
    const frame = Buffer.alloc(r.byteLength + 5, 0xff);
    expect(r.copy(frame, 5)).toBe(r.byteLength);
    expect(frame.subarray(0, 5)).toEqual(Buffer.alloc(5, 0xff));
    expect(frame.subarray(5)).toEqual(Buffer.concat(parts));
  });

  it('toBuffer is the concatenation', () => {
    expect(new ResponseBytes(parts).toBuffer()).toEqual(Buffer.concat(parts));
  });
});
