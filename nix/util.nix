# Small helpers on builtins only: the library needs nothing from nixpkgs' lib, so any package set with
# nixpkgs' interfaces (the real one, or the stand-in the tests use) can drive it.
rec {
  # filterAttrs :: (name -> value -> bool) -> attrs -> attrs
  filterAttrs = pred: set:
    builtins.listToAttrs (builtins.concatMap (name: if pred name set.${name} then [ { inherit name; value = set.${name}; } ] else [ ]) (builtins.attrNames set));

  # genAttrs :: [name] -> (name -> value) -> attrs
  genAttrs = names: f: builtins.listToAttrs (map (name: { inherit name; value = f name; }) names);

  # mapAttrsToList :: (name -> value -> a) -> attrs -> [a]
  mapAttrsToList = f: set: map (name: f name set.${name}) (builtins.attrNames set);

  # concatMapAttrs :: (name -> value -> attrs) -> attrs -> attrs
  concatMapAttrs = f: set: builtins.foldl' (acc: name: acc // f name set.${name}) { } (builtins.attrNames set);

  # escapeShellArg :: string -> string, safe to paste into a POSIX shell command.
  escapeShellArg = value: "'" + builtins.replaceStrings [ "'" ] [ "'\\''" ] (toString value) + "'";

  escapeShellArgs = values: builtins.concatStringsSep " " (map escapeShellArg values);

  concatMapStrings = f: list: builtins.concatStringsSep "" (map f list);

  optional = condition: value: if condition then [ value ] else [ ];

  optionalString = condition: value: if condition then value else "";

  # hasPrefix :: string -> string -> bool
  hasPrefix = prefix: text: builtins.substring 0 (builtins.stringLength prefix) text == prefix;

  # A name the Nix store accepts ([A-Za-z0-9+._?=-], not starting with a dot), from any text.
  storeName = text:
    let
      cleaned = builtins.replaceStrings [ "@" "/" ":" " " ] [ "" "-" "-" "-" ] text;
      chars = builtins.filter (c: builtins.match "[A-Za-z0-9+._?=-]" c != null) (builtins.genList (i: builtins.substring i 1 cleaned) (builtins.stringLength cleaned));
      joined = builtins.concatStringsSep "" chars;
    in
    if hasPrefix "." joined then "x" + joined else if joined == "" then "unnamed" else joined;

  # Throws with a message that starts with "addonix:" and says what to do; no Nix stack trace needed.
  fail = message: builtins.throw "addonix: ${message}";
}
