// Bilinear resize of f32 planes, as PyTorch's interpolate(mode='bilinear',
// align_corners=False, antialias=False). One thread per output element.
//
// Host defines:
//   WORKGROUP threads per workgroup
//
// Dimensions: P planes (batch x channels), input [P, H_in, W_in], output [P, H_out, W_out].
// Output pixel (y, x) samples the input at src = scale * (dst + 0.5) - 0.5 along each axis,
// with scale = in / out and src clamped at 0 below; the upper neighbour is clamped to the
// last row or column.

struct Params {
  n: u32,        // P * H_out * W_out
  in_h: u32,
  in_w: u32,
  out_h: u32,
  out_w: u32,
  scale_h: f32,  // in_h / out_h
  scale_w: f32,  // in_w / out_w
  _pad: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

// Returns the lower source index, the upper one and the weight of the upper one.
fn source_span(dst: u32, scale: f32, in_size: u32) -> vec3<f32> {
  let src = max(scale * (f32(dst) + 0.5) - 0.5, 0.0);
  let lo = min(u32(src), in_size - 1u);
  let hi = min(lo + 1u, in_size - 1u);
  return vec3<f32>(f32(lo), f32(hi), src - f32(lo));
}

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = linear_workgroup(wid, nwg) * WORKGROUP + lid;
  if (i >= params.n) { return; }
  let ox = i % params.out_w;
  let oy = (i / params.out_w) % params.out_h;
  let plane = i / (params.out_w * params.out_h);

  let sy = source_span(oy, params.scale_h, params.in_h);
  let sx = source_span(ox, params.scale_w, params.in_w);
  let base = plane * params.in_h * params.in_w;
  let r0 = base + u32(sy.x) * params.in_w;
  let r1 = base + u32(sy.y) * params.in_w;
  let x0 = u32(sx.x);
  let x1 = u32(sx.y);
  let top = mix(x[r0 + x0], x[r0 + x1], sx.z);
  let bottom = mix(x[r1 + x0], x[r1 + x1], sx.z);
  out[i] = mix(top, bottom, sy.z);
}
