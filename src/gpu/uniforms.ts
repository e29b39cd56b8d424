/**
 * Builds the uniform block of a dispatch: a sequence of 4-byte scalars, written in the order
 * the kernel's `Params` struct declares them. Every field in our structs is a 4-byte scalar
 * (`u32`, `i32`, `f32`), so WGSL's uniform layout rules reduce to "pack in order, pad the end
 * to 16 bytes".
 */
export class Uniforms {
  private readonly view: DataView;
  private readonly bytes: ArrayBuffer;
  private count = 0;

  constructor(capacity = 64) {
    this.bytes = new ArrayBuffer(capacity * 4);
    this.view = new DataView(this.bytes);
  }

  u32(...values: number[]): this {
    for (const v of values) {
      if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new Error(`uniform u32 out of range: ${v}`);
      this.view.setUint32(4 * this.count++, v, true);
    }
    return this;
  }

  i32(...values: number[]): this {
    for (const v of values) {
      if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) throw new Error(`uniform i32 out of range: ${v}`);
      this.view.setInt32(4 * this.count++, v, true);
    }
    return this;
  }

  f32(...values: number[]): this {
    for (const v of values) this.view.setFloat32(4 * this.count++, v, true);
    return this;
  }

  /** Returns the packed bytes, padded to a multiple of 16. */
  finish(): ArrayBuffer {
    const byteLength = Math.max(16, Math.ceil((this.count * 4) / 16) * 16);
    return this.bytes.slice(0, byteLength);
  }
}
