// Builds a batch of model inputs from uint8 images resident on the GPU, in one pass: gathers
// each sample by its index, applies its augmentation (a shift that is a random crop of the
// zero-padded image, and a horizontal flip), resizes bilinearly as PyTorch's
// interpolate(mode='bilinear', align_corners=False), scales to [0, 1], replicates the gray
// channel and normalises each channel by its mean and std. One thread per output pixel
// writes all C channels.
//
// Host defines:
//   WORKGROUP threads per workgroup
//
// Dimensions: N images of H_in x W_in bytes, packed four to a u32 (little-endian, so byte k
// of word w is pixel 4w + k); B samples; output [B, C, H_out, W_out] f32, C = 1 or 3.
// A sample's parameters are four i32: dataset index, dy, dx, flip (0 or 1). The augmented
// image is A(y, x) = I(y + dy, x' + dx) with x' = W_in - 1 - x when flipped, else x, and 0
// outside the image: a crop at offset (dy + pad, dx + pad) of the image padded by `pad`
// zeros, then flipped, as torchvision's RandomCrop followed by RandomHorizontalFlip.

struct Params {
  n: u32,         // B * H_out * W_out
  channels: u32,
  in_h: u32,
  in_w: u32,
  out_h: u32,
  out_w: u32,
  scale_h: f32,   // in_h / out_h
  scale_w: f32,   // in_w / out_w
  mean0: f32,
  mean1: f32,
  mean2: f32,
  inv_std0: f32,
  inv_std1: f32,
  inv_std2: f32,
  _pad0: u32,
  _pad1: u32,
}

@group(0) @binding(0) var<storage, read> pixels: array<u32>;
@group(0) @binding(1) var<storage, read> samples: array<i32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

// Returns the augmented pixel (y, x) of a sample, 0..255, or 0 outside the image.
fn augmented_pixel(image: u32, dy: i32, dx: i32, flip: bool, y: u32, x: u32) -> f32 {
  var xx = i32(x);
  if (flip) { xx = i32(params.in_w) - 1 - xx; }
  let sy = i32(y) + dy;
  let sx = xx + dx;
  if (sy < 0 || sx < 0 || sy >= i32(params.in_h) || sx >= i32(params.in_w)) { return 0.0; }
  let p = image * params.in_h * params.in_w + u32(sy) * params.in_w + u32(sx);
  return f32((pixels[p >> 2u] >> ((p & 3u) * 8u)) & 0xffu);
}

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
  let b = i / (params.out_w * params.out_h);

  // The sample's index and augmentation.
  let image = u32(samples[4u * b]);
  let dy = samples[4u * b + 1u];
  let dx = samples[4u * b + 2u];
  let flip = samples[4u * b + 3u] != 0;

  // Bilinear interpolation of the augmented image.
  let sy = source_span(oy, params.scale_h, params.in_h);
  let sx = source_span(ox, params.scale_w, params.in_w);
  let y0 = u32(sy.x);
  let y1 = u32(sy.y);
  let x0 = u32(sx.x);
  let x1 = u32(sx.y);
  let top = mix(augmented_pixel(image, dy, dx, flip, y0, x0), augmented_pixel(image, dy, dx, flip, y0, x1), sx.z);
  let bottom = mix(augmented_pixel(image, dy, dx, flip, y1, x0), augmented_pixel(image, dy, dx, flip, y1, x1), sx.z);
  let value = mix(top, bottom, sy.z) * (1.0 / 255.0);

  // Channel replication and normalisation.
  let plane = params.out_h * params.out_w;
  let base = b * params.channels * plane + oy * params.out_w + ox;
  out[base] = (value - params.mean0) * params.inv_std0;
  if (params.channels == 3u) {
    out[base + plane] = (value - params.mean1) * params.inv_std1;
    out[base + 2u * plane] = (value - params.mean2) * params.inv_std2;
  }
}
