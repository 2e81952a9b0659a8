{
  description = "addonix: reproducible, cross-compiled container images for Home Assistant add-ons, built with Nix";

  # nixos-25.11, pinned in flake.lock (rev 25f538306313eae3927264466c70d7001dcea1df; see README).
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.11";

  outputs = { self, nixpkgs }:
    let
      addonix = import ./nix/lib.nix { addonixSrc = self; };
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forSystems = f: builtins.listToAttrs (map (system: { name = system; value = f system; }) systems);

      # The bundled example add-on is what `nix run .#build-all-images` builds here.
      example = addonix.mkAddonFlakeWith nixpkgs { src = ./examples/sqlite-notes; inherit systems; };
      prebuildArches = [ "amd64" "aarch64" "armv7" "armhf" ];
    in
    {
      lib = {
        inherit (addonix) arches mkAddonImages prebuildsFor cli;
        mkAddonFlake = addonix.mkAddonFlakeWith nixpkgs;
        mkRepositoryFlake = addonix.mkRepositoryFlakeWith nixpkgs;
      };

      packages = forSystems (system:
        let pkgs = nixpkgs.legacyPackages.${system}; in
        example.packages.${system}
        // builtins.listToAttrs (map (arch: { name = "prebuilds-better-sqlite3-${arch}"; value = addonix.prebuildsFor { inherit pkgs arch; }; }) prebuildArches)
        // { default = example.packages.${system}.addonix; });

      apps = forSystems (system: example.apps.${system} // { default = example.apps.${system}.addonix; });

      templates.default = {
        path = ./templates/default;
        description = "A Home Assistant add-on built with addonix (run `addonix generate` after copying)";
      };

      devShells = forSystems (system:
        let pkgs = nixpkgs.legacyPackages.${system}; in
        { default = pkgs.mkShell { packages = [ pkgs.nodejs_22 pkgs.skopeo pkgs.qemu ]; }; });

      # End-to-end checks with the real nixpkgs: the example's aarch64 Node.js, node_modules and
      # better-sqlite3, cross-built for musl, run under QEMU user emulation and answer SQLite's version.
      # They need nixpkgs and its binary cache: CI runs them (.gitlab-ci.yml, .github/workflows/e2e.yml); the test suite, on
      # machines without nixpkgs, checks the same logic against test/nixpkgs-stand-in.
      checks = forSystems (system:
        let
          pkgs = nixpkgs.legacyPackages.${system};
          built = addonix.mkAddonImages {
            inherit pkgs;
            src = ./examples/sqlite-notes;
            addon = import ./examples/sqlite-notes/nix/addon.generated.nix;
            npmDeps = import ./examples/sqlite-notes/nix/npm-deps.generated.nix;
          };
          targetPkgs = import ./nix/target-pkgs.nix { util = import ./nix/util.nix; arches = addonix.arches; };
          aarch64 = targetPkgs { inherit pkgs; arch = "aarch64"; libc = "musl"; strategy = "cross"; };
        in
        {
          e2e-aarch64 = pkgs.runCommand "addonix-e2e-aarch64" { nativeBuildInputs = [ pkgs.qemu ]; } ''
            cd ${built.nodeModules.aarch64}
            qemu-aarch64 ${aarch64.nodejs}/bin/node -e \
              "const db = new (require('better-sqlite3'))(':memory:'); console.log(db.prepare('select sqlite_version() as v').get().v)" \
              | tee "$out"
            grep -E '^3\.[0-9]+\.[0-9]+$' "$out"
          '';
          e2e-images = pkgs.runCommand "addonix-e2e-images" { } ''
            ls -l ${built.images.amd64} ${built.images.aarch64} ${built.images.armv7} > "$out"
          '';
        });
    };
}
