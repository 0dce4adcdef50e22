# ccci-snapshot: a canonical's known-good snapshot by hand (ccci-snapshot take|restore|verify|show RECIPE).
# Tools: abra (run under a pty ccci opens itself; util-linux's `script` to
# reproduce a call by hand), the docker client (not the engine), git (recipe checkouts and tags), gnutar
# (volume snapshots), coreutils. `abra` is an argument so it can be swapped:
#   ccci.packages.${system}.ccci-snapshot.override { abra = myAbra; }
{
  ccciExecutable,
  abra,
  docker-client,
  git,
  gnutar,
  util-linux,
  coreutils,
}:
ccciExecutable {
  name = "ccci-snapshot";
  module = "ccci.entry.snapshot";
  tools = [
    abra
    docker-client
    git
    gnutar
    util-linux
    coreutils
  ];
  # The NixOS module checks the config's `abra` is this one.
  passthru = { inherit abra; };
}
