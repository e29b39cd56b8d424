// Patch extraction for a ViT's patch embedding, the unfold of a P x P convolution with
// stride P, and its inverse. One thread per output element.
//   MODE 0 (unfold): patches[b, n, k] = image[b, c, py * P + ky, px * P + kx]
//   MODE 1 (fold):   image[b, c, y, x] = patches[b, n, k]
// where n = py * (W / P) + px and k = (c * P + ky) * P + kx, the flattening order of a
// convolution weight [width, C, P, P], so that a linear layer with that weight viewed as
// [width, C * P * P] equals the convolution. H and W are multiples of P, so fold is an exact
// inverse: every pixel belongs to one patch.
//
// Legend: B batch, C channels, H x W image, P patch size, N = (H / P) * (W / P) patches.
//   image [B, C, H, W]; patches [B, N, C * P * P]
// Host defines:
//   MODE      0 unfold, 1 fold
//   WORKGROUP threads per workgroup

struct Params {
  total: u32,      // elements written
  channels: u32,
  height: u32,
  width: u32,
  patch_size: u32,
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
}

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let index = linear_workgroup(wid, nwg) * WORKGROUP + lid;
  if (index >= params.total) { return; }
  let p = params.patch_size;
  let h = params.height;
  let w = params.width;
  let c = params.channels;
  let patches_x = w / p;
  let patch_len = c * p * p;
  let patch_count = (h / p) * patches_x;

  if (MODE == 0u) {
    // index = (b * N + n) * (C * P * P) + k
    let k = index % patch_len;
    let n = (index / patch_len) % patch_count;
    let b = index / (patch_len * patch_count);
    let kx = k % p;
    let ky = (k / p) % p;
    let ch = k / (p * p);
    let y = (n / patches_x) * p + ky;
    let x = (n % patches_x) * p + kx;
    dst[index] = src[((b * c + ch) * h + y) * w + x];
  } else {
    // index = ((b * C + ch) * H + y) * W + x
    let x = index % w;
    let y = (index / w) % h;
    let ch = (index / (w * h)) % c;
    let b = index / (w * h * c);
    let n = (y / p) * patches_x + x / p;
    let k = (ch * p + y % p) * p + x % p;
    dst[index] = src[(b * patch_count + n) * patch_len + k];
  }
}
