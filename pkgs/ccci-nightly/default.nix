# ccci-nightly: the nightly sweep (warm infra first, then a serial cold run of
# every enrolled recipe). It starts ccci-reconcile and ccci-run as children
# through its own interpreter, so its PATH carries what they need: abra,
# the docker client, git, gnutar, util-linux, coreutils. `abra` can be swapped:
#   ccci.packages.${system}.ccci-nightly.override { abra = myAbra; }
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
  name = "ccci-nightly";
  module = "ccci.entry.nightly";
  tools = [
    abra
    docker-client
    git
    gnutar
    util-linux
    coreutils
  ];
  passthru = { inherit abra; };
}
