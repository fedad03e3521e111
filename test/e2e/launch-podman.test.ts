// The launch end to end on podman (runc, the agent's containers.conf). Skipped only when podman is
// not installed.
import { spawnSync } from "node:child_process";
import { describeLaunchSuite } from "./launch-suite.js";

const present = spawnSync("podman", ["--version"], { stdio: "ignore" }).status === 0;
describeLaunchSuite("podman", present ? false : "podman is not installed");
