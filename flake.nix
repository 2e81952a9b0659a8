{
  description = "addonix: reproducible, cross-compiled container images for Home Assistant add-ons, built with Nix";

  # nixos-26.05, pinned in flake.lock (rev 7c8764b7c7b09b34f632464276218ef9090eaa11; see README, "Nix library").
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-26.05";

  outputs = { self, nixpkgs }:
    let
      addonix = import ./nix/lib.nix { addonixSrc = self; };
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forSystems = f: builtins.listToAttrs (map (system: { name = system; value = f system; }) systems);
      prebuildArches = [ "amd64" "aarch64" "armv7" "armhf" ];
      exampleDir = ./examples/sqlite-notes;

      # One evaluation imports each package set once: the example's images, the prebuilds and the
      # checks share them.
      perSystem = forSystems (system:
        let
          pkgs = nixpkgs.legacyPackages.${system};
          packageSets = addonix.packageSets { inherit pkgs nixpkgs; };
          example = addonix.mkAddonImages {
            inherit pkgs nixpkgs packageSets;
            src = exampleDir;
            addon = import (exampleDir + "/nix/addon.generated.nix");
            npmDeps = import (exampleDir + "/nix/npm-deps.generated.nix");
          };
        in
        { inherit pkgs packageSets example; cli = addonix.cli pkgs; });
    in
    {
      lib = {
        inherit (addonix) arches strategies mkAddonImages prebuildsFor packageSets cli ciTools;
        mkAddonFlake = addonix.mkAddonFlakeWith nixpkgs;
        mkRepositoryFlake = addonix.mkRepositoryFlakeWith nixpkgs;
      };

      # The bundled example add-on is what `nix run .#build-all-images` builds here.
      packages = forSystems (system:
        let inherit (perSystem.${system}) pkgs packageSets example cli; in
        example.packages
        // builtins.listToAttrs (map (arch: { name = "prebuilds-better-sqlite3-${arch}"; value = addonix.prebuildsFor { inherit pkgs arch packageSets; }; }) prebuildArches)
        // { addonix = cli; default = cli; });

      apps = forSystems (system:
        let
          inherit (perSystem.${system}) pkgs example cli;
          apps = import ./nix/apps.nix { util = import ./nix/util.nix; } { inherit pkgs cli; inherit (example) streams; pins = [ { input = "nixpkgs"; path = nixpkgs; } ]; };
        in
        apps // {
          addonix = { type = "app"; program = "${cli}/bin/addonix"; };
          default = { type = "app"; program = "${cli}/bin/addonix"; };
        });

      # What the CI files of `addonix init --ci` run (jq, cosign, cachix, attic-client), from the pinned nixpkgs.
      legacyPackages = forSystems (system: { ci = addonix.ciTools perSystem.${system}.pkgs; });

      templates.default = {
        path = ./templates/default;
        description = "A Home Assistant add-on built with addonix (run `addonix generate` after copying)";
      };

      devShells = forSystems (system:
        let pkgs = nixpkgs.legacyPackages.${system}; in
        { default = pkgs.mkShell { packages = [ pkgs.nodejs_22 pkgs.skopeo pkgs.qemu ]; }; });

      # End-to-end checks with the real nixpkgs. They need nixpkgs and its binary cache: CI runs them
      # (.gitlab-ci.yml, .github/workflows/e2e.yml) on a native runner of each system; the test suite,
      # on machines without nixpkgs, checks the same logic against test/nixpkgs-stand-in.
      #   e2e-node-modules  the example's node_modules of this system's arch (strategy cached: Node.js
      #                     from the cache, better-sqlite3 compiled here) answers SQLite's version
      #   e2e-images        the example's images of the supported arches (amd64, aarch64) are built
      checks = forSystems (system:
        let
          inherit (perSystem.${system}) pkgs example;
          arch = if system == "aarch64-linux" then "aarch64" else "amd64";
        in
        {
          e2e-node-modules = pkgs.runCommand "addonix-e2e-node-modules-${arch}" { } ''
            cd ${example.nodeModules.${arch}}
            ${pkgs.nodejs-slim}/bin/node -e \
              "const db = new (require('better-sqlite3'))(':memory:'); console.log(db.prepare('select sqlite_version() as v').get().v)" \
              | tee "$out"
            grep -E '^3\.[0-9]+\.[0-9]+$' "$out"
          '';
          e2e-images = pkgs.runCommand "addonix-e2e-images" { } ''
            ls -l ${example.streams.amd64} ${example.streams.aarch64} > "$out"
          '';
        });
    };
}
