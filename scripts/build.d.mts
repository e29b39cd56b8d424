export function buildLibrary(options?: { entry?: string; outfile?: string; logLevel?: 'silent' | 'error' | 'warning' | 'info' }): Promise<string>;
