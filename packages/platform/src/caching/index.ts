export * from './read-through-cache';
