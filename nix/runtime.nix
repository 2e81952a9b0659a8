# The add-on's runtime contract (the `runtime` of each arch in nix/addon.generated.nix, decided by
# `addonix generate` from the add-on's Dockerfile) turned into what dockerTools takes: the build context
# the file steps copy from, and the image config as Docker would make it on the base image.
{ util }:
rec {
  # Files of the add-on folder addonix never copies into an image: its own (nix/, flake.nix, flake.lock,
  # result links), git's, and node_modules (addonix installs its own, from the lockfile).
  ownFiles = [ "nix" "flake.nix" "flake.lock" ".git" ];

  # contextFor: the add-on folder as the build context (a store path), without the files above and
  # without what .dockerignore leaves out.
  #
  # Arguments:
  #   src     the add-on folder
  #   ignore  the .dockerignore patterns as `addonix generate` compiled them: a list of
  #           { regex; exclude; } in file order, each regex matching a relative path (POSIX ERE, the
  #           whole path); the last pattern that matches a path or a folder above it decides
  #   name    the store name
  contextFor = { src, ignore, name }:
    let
      root = toString src;
      hasExceptions = builtins.any (rule: !rule.exclude) ignore;
      relative = path: builtins.substring (builtins.stringLength root + 1) (-1) (toString path);
      decide = rel: builtins.foldl' (ignored: rule: if builtins.match rule.regex rel != null then rule.exclude else ignored) false ignore;
      keep = path: type:
        let
          rel = relative path;
          base = baseNameOf rel;
          top = builtins.match "[^/]*" rel != null;
        in
        base != "node_modules"
        && !(top && (builtins.elem rel ownFiles || util.hasPrefix "result" rel))
        # A folder the patterns leave out is still walked when an exception (`!pattern`) may take
        # something below it back, as Docker does.
        && (!(decide rel) || (type == "directory" && hasExceptions));
    in
    builtins.path { path = src; inherit name; filter = keep; };

  # The variable name of an Env entry ("A=b" -> "A").
  envName = entry: builtins.head (builtins.match "([^=]*).*" entry);

  # Env of an image built on `base` that sets `ours`: the base's variables first, one the image sets
  # again keeping its place with the new value, new ones after in their order (BuildKit's addEnv, and
  # dockerTools' overlay_base_config for the base's Env).
  mergeEnv = base: ours:
    let
      all = base ++ ours;
      names = builtins.foldl' (acc: entry: if builtins.elem (envName entry) acc then acc else acc ++ [ (envName entry) ]) [ ] all;
      last = name: builtins.foldl' (found: entry: if envName entry == name then entry else found) null all;
    in
    map last names;

  # configFor: the image config Docker would write for the Dockerfile's changes on the base's config.
  #
  # Arguments:
  #   base     the base image's config (the OCI config's `config`: Entrypoint, Cmd, Env, WorkingDir,
  #            User, Labels, ExposedPorts, Volumes, Healthcheck, StopSignal, Shell, OnBuild), {} if none
  #   changes  what the Dockerfile sets (runtime.config): a key present replaces the base's, null clears
  #            it (an ENTRYPOINT clears the inherited Cmd); Env, Labels, ExposedPorts and Volumes merge
  #   labels   the labels the builder adds last (io.hass.*, org.opencontainers.image.*)
  #   run      null, or a command that replaces the Cmd (like `docker run IMAGE COMMAND`)
  configFor = { base, changes, labels, run ? null }:
    let
      pick = key: if changes ? ${key} then changes.${key} else base.${key} or null;
      union = key: (base.${key} or { }) // (changes.${key} or { });
      merged = {
        Entrypoint = pick "Entrypoint";
        Cmd = if run != null then run else pick "Cmd";
        Env = mergeEnv (base.Env or [ ]) (changes.Env or [ ]);
        WorkingDir = pick "WorkingDir";
        User = pick "User";
        Labels = union "Labels" // labels;
        ExposedPorts = union "ExposedPorts";
        Volumes = union "Volumes";
        Healthcheck = pick "Healthcheck";
        StopSignal = pick "StopSignal";
        Shell = pick "Shell";
        OnBuild = pick "OnBuild";
      };
    in
    util.filterAttrs (_: value: value != null && value != { } && value != "") merged;
}
