namespace Cocoon.Worker.Native;

/// <summary>Which llama.cpp build to load: the CPU package (default) or the CUDA package.</summary>
public enum LlamaBackend
{
    Cpu,
    Cuda,
}

/// <summary>Where the llama.cpp shared libraries of one backend are and which files to load.</summary>
public sealed record LlamaLibraryLocation(LlamaBackend Backend, string Directory, string LlamaFile, string GgmlFile)
{
    public string LlamaPath => Path.Combine(Directory, LlamaFile);

    public string GgmlPath => Path.Combine(Directory, GgmlFile);
}

/// <summary>
/// Finds the llama.cpp libraries the way ./cocoon installs them (npm packages @node-llama-cpp/linux-x64[-cuda]@3.22.1
/// unpacked into a per-user cache) and checks, before anything native is loaded, that the chosen backend can run.
/// </summary>
public static class LlamaLibraryLocator
{
    public const string PackageVersion = "3.22.1";

    /// <summary>The CUDA build needs these from the host (driver and CUDA 13 runtime); the npm package does not bundle them.</summary>
    public static IReadOnlyList<string> CudaRuntimeLibraries { get; } = ["libcuda.so.1", "libcudart.so.13", "libcublas.so.13"];

    public static LlamaBackend ParseBackend(string? value) => value?.Trim().ToLowerInvariant() switch
    {
        null or "" or "cpu" => LlamaBackend.Cpu,
        "cuda" => LlamaBackend.Cuda,
        _ => throw new LlamaException(
            $"COCOON_LLAMA_BACKEND (Llama:Backend) is '{value}': use 'cpu' (the default) or 'cuda' (an NVIDIA GPU with the CUDA 13 runtime)."),
    };

    public static string PackageName(LlamaBackend backend) =>
        backend == LlamaBackend.Cuda ? $"@node-llama-cpp/linux-x64-cuda@{PackageVersion}" : $"@node-llama-cpp/linux-x64@{PackageVersion}";

    /// <summary>
    /// The cache folder ./cocoon unpacks into: $COCOON_CACHE, else $XDG_CACHE_HOME/cocoon, else ~/.cache/cocoon; then llama/3.22.1/backend.
    /// </summary>
    public static string DefaultDirectory(LlamaBackend backend, Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        var cache = environment("COCOON_CACHE") is { Length: > 0 } c
            ? c
            : Path.Combine(
                environment("XDG_CACHE_HOME") is { Length: > 0 } x ? x : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"),
                "cocoon");
        return Path.Combine(cache, "llama", PackageVersion, backend == LlamaBackend.Cuda ? "cuda" : "cpu");
    }

    /// <summary>
    /// Resolves and checks the library folder. <paramref name="canLoadLibrary"/> tells whether a system library loads
    /// (NativeLibrary.TryLoad in production); it decides whether the CUDA runtime is present.
    /// </summary>
    public static LlamaLibraryLocation Locate(LlamaBackend backend, string? configuredDirectory, Func<string, string?> environment, Func<string, bool> canLoadLibrary)
    {
        ArgumentNullException.ThrowIfNull(canLoadLibrary);
        var directory = Path.GetFullPath(configuredDirectory is { Length: > 0 } d ? d : DefaultDirectory(backend, environment));
        var infix = backend == LlamaBackend.Cuda ? ".cuda" : string.Empty;
        var location = new LlamaLibraryLocation(backend, directory, $"libllama{infix}.v0.5.0.so", $"libggml{infix}.v0.5.0.so");
        var how = $"Run ./cocoon generate (it fetches {PackageName(backend)} into {DefaultDirectory(backend, environment)}), " +
                  "or set COCOON_LLAMA_LIB_DIR (Llama:LibraryDir) to the folder that holds these libraries.";

        var required = new List<string> { location.LlamaFile, location.GgmlFile };
        if (backend == LlamaBackend.Cuda)
        {
            required.Add("libggml-cuda.so");
        }

        var missing = required.Where(f => !File.Exists(Path.Combine(directory, f))).ToList();
        if (missing.Count > 0)
        {
            throw new LlamaException(
                $"The llama.cpp libraries for backend '{backend.ToString().ToLowerInvariant()}' are not in {directory} (missing {string.Join(", ", missing)}). {how}");
        }

        if (backend == LlamaBackend.Cpu && !Directory.EnumerateFiles(directory, "libggml-cpu-*.so").Any())
        {
            throw new LlamaException($"No CPU backend (libggml-cpu-*.so) in {directory}. {how}");
        }

        if (backend == LlamaBackend.Cuda)
        {
            var absent = CudaRuntimeLibraries.Where(l => !canLoadLibrary(l)).ToList();
            if (absent.Count > 0)
            {
                throw new LlamaException(
                    $"COCOON_LLAMA_BACKEND=cuda, but this machine has no usable NVIDIA GPU/CUDA runtime: {string.Join(", ", absent)} could not be loaded. " +
                    "Install the NVIDIA driver (libcuda.so.1) and the CUDA 13 runtime (libcudart.so.13, libcublas.so.13), or set COCOON_LLAMA_BACKEND=cpu.");
            }
        }

        return location;
    }
}
