/** Node-only Fashion-MNIST sources: local directories, Debian's package, the mirror download. */
export {
  loadFashionMnist, findFashionMnistDir, readFashionMnistDir, missingFiles, DataNotFoundError,
  DATA_DIR_ENV, DEBIAN_DATA_DIR, LOCAL_DATA_DIR, INSTALL_COMMAND, type SourceOptions,
} from './sources-node.ts';
export { downloadFashionMnist, isMirrorReachable, sha256Hex, MirrorUnreachableError, CONNECT_TIMEOUT_MS, type DownloadOptions } from './download.ts';
