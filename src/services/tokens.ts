/** Injection token of the process's pino logger (provided by AppModule). */
export const LOGGER_TOKEN = Symbol('LOGGER');
