export * from './vocabulary.js';
export * from './errors.js';
