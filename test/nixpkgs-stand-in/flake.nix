{
  # A STAND-IN FOR NIXPKGS, for addonix's tests where nixpkgs cannot be fetched: see default.nix.
  description = "nixpkgs stand-in for addonix's tests (only what addonix calls, real builders from host tools)";
  outputs = { self }: {
    legacyPackages = {
      x86_64-linux = import ./. { localSystem = { system = "x86_64-linux"; }; };
      aarch64-linux = import ./. { localSystem = { system = "aarch64-linux"; }; };
    };
  };
}
