# GPAW build configuration for a plain Debian/Ubuntu machine without MPI:
#   apt-get install g++ libxc-dev libopenblas-dev libfftw3-dev
#   GPAW_CONFIG="$PWD/install/gpaw-siteconfig.py" python3 -m pip install -e ".[dft]"
# (Do not set GPAW_BUILD_JOBS.) On a cluster use your site's MPI/BLAS build of GPAW instead.
mpi = False
compiler = "g++"
libraries = ["xc", "openblas", "fftw3"]
