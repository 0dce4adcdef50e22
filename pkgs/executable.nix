# One ccci executable as its own package: `python -m <module>` from a Python
# environment that holds ccci and its deps, with this job's runtime tools
# first on PATH (pinned store paths, never "whatever the host has").
#
# Why an environment and `-m` instead of the console script: ccci starts
# Python children through sys.executable (the nightly sweep runs
# `-m ccci.entry.run` and `-m ccci.entry.reconcile`; a run starts `-m pytest`
# for a recipe's tests). A console script from nixpkgs' Python builders adds
# its deps to sys.path inside the script, so its sys.executable is a bare
# interpreter without them. python3.withPackages gives an interpreter that
# has them, for the job and for every child it starts.
{
  lib,
  runCommand,
  makeWrapper,
  python3,
  ccci,
}:
{
  name,
  module,
  tools,
  passthru ? { },
}:
let
  env = python3.withPackages (_: [ ccci ]);
in
runCommand name
  {
    nativeBuildInputs = [ makeWrapper ];
    passthru = {
      inherit
        ccci
        env
        tools
        module
        ;
    }
    // passthru;
    meta = ccci.meta // {
      mainProgram = name;
    };
  }
  # PYTHONSAFEPATH: `-m` would otherwise put the working directory first on
  # sys.path, so running from a checkout of this repository would import its
  # ./ccci instead of the packaged one. PATH is prefixed, not set: the pinned
  # tools win, and a unit may still add tools of its own (e.g. ssh).
  ''
    makeWrapper ${env}/bin/python3 $out/bin/${name} \
      --add-flags "-m ${module}" \
      --set PYTHONSAFEPATH 1 \
      --prefix PATH : ${lib.makeBinPath tools}
  ''
