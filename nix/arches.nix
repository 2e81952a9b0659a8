# The arch table: every Home Assistant arch (and the opt-in riscv64) with the names other tools use for
# it. It must equal src/addon/arch.ts (a test compares them) and `addonix inspect`.
#   nixSystem    the Nix system that runs natively on the arch (for strategy = "native")
#   muslTarget   nixpkgs crossSystem.config for musl userlands (the default); lib/systems/examples.nix
#                (NixOS/nixpkgs@59eb55b5) names musl64, aarch64-multiplatform-musl, muslpi, musl32 so;
#                armv7l and riscv64 musl have no example there and are written out
#   glibcTarget  nixpkgs crossSystem.config for glibc userlands
#   goarch       GOARCH: dockerTools' `architecture` and the image config's architecture
#   variant      the OCI platform variant (dockerTools never writes it; the index addonix writes does)
#   npmCpu       Node's process.arch: node-gyp's --arch
#   supervisor   "supported", "deprecated" (still installs) or "none" (Home Assistant does not run it)
{
  amd64 = { nixSystem = "x86_64-linux"; muslTarget = "x86_64-unknown-linux-musl"; glibcTarget = "x86_64-unknown-linux-gnu"; goarch = "amd64"; variant = null; npmCpu = "x64"; supervisor = "supported"; };
  aarch64 = { nixSystem = "aarch64-linux"; muslTarget = "aarch64-unknown-linux-musl"; glibcTarget = "aarch64-unknown-linux-gnu"; goarch = "arm64"; variant = "v8"; npmCpu = "arm64"; supervisor = "supported"; };
  armv7 = { nixSystem = "armv7l-linux"; muslTarget = "armv7l-unknown-linux-musleabihf"; glibcTarget = "armv7l-unknown-linux-gnueabihf"; goarch = "arm"; variant = "v7"; npmCpu = "arm"; supervisor = "deprecated"; };
  armhf = { nixSystem = "armv6l-linux"; muslTarget = "armv6l-unknown-linux-musleabihf"; glibcTarget = "armv6l-unknown-linux-gnueabihf"; goarch = "arm"; variant = "v6"; npmCpu = "arm"; supervisor = "deprecated"; };
  i386 = { nixSystem = "i686-linux"; muslTarget = "i686-unknown-linux-musl"; glibcTarget = "i686-unknown-linux-gnu"; goarch = "386"; variant = null; npmCpu = "ia32"; supervisor = "deprecated"; };
  riscv64 = { nixSystem = "riscv64-linux"; muslTarget = "riscv64-unknown-linux-musl"; glibcTarget = "riscv64-unknown-linux-gnu"; goarch = "riscv64"; variant = null; npmCpu = "riscv64"; supervisor = "none"; };
}
