export * from './vocabulary.js';
export * from './errors.js';
export * from './call-context.js';
export * from './settings.js';
