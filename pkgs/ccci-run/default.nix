# ccci-run: a cold run (ccci-run RECIPE [--ref REF]).
# Tools: abra (run under a pty ccci opens itself; util-linux's `script` to
# reproduce a call by hand), the docker client (not the engine), git (recipe checkouts and tags), gnutar
# (volume snapshots), coreutils. `abra` is an argument so it can be swapped:
#   ccci.packages.${system}.ccci-run.override { abra = myAbra; }
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
  name = "ccci-run";
  module = "ccci.entry.run";
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
