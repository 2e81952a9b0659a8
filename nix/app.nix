# The app folder as the image holds it: /app with the Node.js app's sources and its node_modules.
#
# Arguments of the returned function:
#   buildPkgs    the package set whose runCommand assembles the folder (the build machine's)
#   src          the folder of the app (or of the add-on, for an add-on without Node.js)
#   isAddonRoot  whether `src` is the add-on folder itself: its metadata (config.yaml, build files,
#                Dockerfile, translations, icons, nix/) then stays out of /app
#   nodeModules  the node_modules derivation (node-modules.nix), or null
#   name         name of the derivation
{ util }:
{ buildPkgs, src, isAddonRoot, nodeModules, name }:
let
  alwaysLeftOut = [ "node_modules" ".git" ".github" ".gitlab-ci.yml" ];
  addonMetadata = [ "config.yaml" "config.yml" "config.json" "build.yaml" "build.yml" "build.json" "Dockerfile" "translations" "icon.png" "logo.png" "apparmor.txt" "CHANGELOG.md" "DOCS.md" "nix" "flake.nix" "flake.lock" ];
  topLevel = path: builtins.dirOf (toString path) == toString src;
  keep = path: type:
    let base = baseNameOf (toString path); in
    !(builtins.elem base alwaysLeftOut)
    && !(util.hasPrefix "result" base && topLevel path)
    && !(isAddonRoot && topLevel path && (builtins.elem base addonMetadata || util.hasPrefix "Dockerfile." base));
  sources = builtins.path { path = src; name = "${name}-source"; filter = keep; };
in
buildPkgs.runCommand name { } ''
  mkdir -p "$out/app"
  cp -r ${sources}/. "$out/app/"
  chmod -R u+w "$out/app"
  ${util.optionalString (nodeModules != null) ''ln -s ${nodeModules}/node_modules "$out/app/node_modules"''}
''
