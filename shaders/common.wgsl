// Prepended to every kernel. Grids larger than maxComputeWorkgroupsPerDimension are folded into
// x and y by the host (src/gpu/engine.ts), so a kernel dispatched with a linear workgroup count
// recovers its linear workgroup index here.
fn linear_workgroup(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return wid.x + wid.y * nwg.x + wid.z * nwg.x * nwg.y;
}
