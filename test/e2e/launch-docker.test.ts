// The launch end to end on docker: a private dockerd the suite starts in a temporary directory and
// stops by its pid. Skipped only when dockerd or the docker CLI is not installed.
import { spawnSync } from "node:child_process";
import { describeLaunchSuite } from "./launch-suite.js";

const present =
  spawnSync("dockerd", ["--version"], { stdio: "ignore" }).status === 0 &&
  spawnSync("docker", ["--version"], { stdio: "ignore" }).status === 0;
describeLaunchSuite("docker", present ? false : "dockerd or the docker CLI is not installed");
