/**
 * A plugin config in the engine's casing, as moby's api/types/plugin.go declares it. Every field is optional: Go
 * leaves a missing or null field at its zero value. Pointer fields in Go (Mount.Source, Env.Value, Device.Path) are
 * optional here too, and the difference between absent and "" matters to the engine (an absent mount Source fails
 * `docker plugin enable`; "" does not).
 */
export interface PluginSetting {
  Name?: string;
  Description?: string;
  Settable?: string[];
}

export interface PluginMount extends PluginSetting {
  Source?: string;
  Destination?: string;
  Type?: string;
  Options?: string[];
}

export interface PluginEnv extends PluginSetting {
  Value?: string;
}

export interface PluginDevice extends PluginSetting {
  Path?: string;
}

export interface PluginArgs extends PluginSetting {
  Value?: string[];
}

export interface PluginConfig {
  Description?: string;
  Documentation?: string;
  Interface?: { Types?: string[]; Socket?: string; ProtocolScheme?: string };
  Entrypoint?: string[];
  WorkDir?: string;
  User?: { UID?: number; GID?: number };
  Network?: { Type?: string };
  Linux?: { Capabilities?: string[]; AllowAllDevices?: boolean; Devices?: PluginDevice[] };
  PropagatedMount?: string;
  IpcHost?: boolean;
  PidHost?: boolean;
  Mounts?: PluginMount[];
  Env?: PluginEnv[];
  Args?: PluginArgs;
  DockerVersion?: string;
  rootfs?: { type?: string; diff_ids?: string[] };
}

/** The privilege list `docker plugin install` asks users to accept (moby plugin/backend_linux.go computePrivileges). */
export interface PluginPrivilege {
  Name: string;
  Description: string;
  Value: string[];
}
