# ccci-reconcile: one warm infra app to its latest release (ccci-reconcile APP).
# Tools: abra (run under a pty ccci opens itself; util-linux's `script` to
# reproduce a call by hand), the docker client (not the engine), git (recipe checkouts and tags), gnutar
# (volume snapshots), coreutils. `abra` is an argument so it can be swapped:
#   ccci.packages.${system}.ccci-reconcile.override { abra = myAbra; }
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
  name = "ccci-reconcile";
  module = "ccci.entry.reconcile";
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
