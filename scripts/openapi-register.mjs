import { register } from "node:module";

register("./openapi-stubs.mjs", import.meta.url);
