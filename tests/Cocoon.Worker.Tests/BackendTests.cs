using Cocoon.Testing;
using Cocoon.Worker.Inference;
using Cocoon.Worker.Native;
using Microsoft.Extensions.Configuration;

namespace Cocoon.Worker.Tests;

/// <summary>Backend choice and its errors, without loading anything native and without the CUDA package.</summary>
public sealed class BackendTests
{
    [Theory]
    [InlineData(null, LlamaBackend.Cpu)]
    [InlineData("", LlamaBackend.Cpu)]
    [InlineData("cpu", LlamaBackend.Cpu)]
    [InlineData("CUDA", LlamaBackend.Cuda)]
    [InlineData(" cuda ", LlamaBackend.Cuda)]
    public void ParsesTheBackend(string? value, LlamaBackend expected) => Assert.Equal(expected, LlamaLibraryLocator.ParseBackend(value));

    [Fact]
    public void ABadBackendNamesTheSettingAndTheChoices()
    {
        var ex = Assert.Throws<LlamaException>(() => LlamaLibraryLocator.ParseBackend("vulkan"));
        Assert.Contains("COCOON_LLAMA_BACKEND", ex.Message, StringComparison.Ordinal);
        Assert.Contains("'cpu'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("'cuda'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TheDefaultFolderFollowsTheCacheVariablesLikeTheScript()
    {
        Assert.Equal("/c/llama/3.22.1/cuda", LlamaLibraryLocator.DefaultDirectory(LlamaBackend.Cuda, n => n == "COCOON_CACHE" ? "/c" : "/x"));
        Assert.Equal("/x/cocoon/llama/3.22.1/cpu", LlamaLibraryLocator.DefaultDirectory(LlamaBackend.Cpu, n => n == "XDG_CACHE_HOME" ? "/x" : null));
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        Assert.Equal(Path.Combine(home, ".cache", "cocoon", "llama", "3.22.1", "cpu"), LlamaLibraryLocator.DefaultDirectory(LlamaBackend.Cpu, _ => null));
    }

    [Fact]
    public void CpuPicksThePlainLibraries()
    {
        using var dir = new TempDir();
        Touch(dir, "libllama.v0.5.0.so", "libggml.v0.5.0.so", "libggml-cpu-x64.so");
        var location = LlamaLibraryLocator.Locate(LlamaBackend.Cpu, dir.Path, _ => null, _ => false);
        Assert.Equal(Path.Combine(dir.Path, "libllama.v0.5.0.so"), location.LlamaPath);
        Assert.Equal(Path.Combine(dir.Path, "libggml.v0.5.0.so"), location.GgmlPath);
    }

    [Fact]
    public void CudaWithoutItsLibrariesSaysWhatIsMissingAndHowToGetThem()
    {
        using var dir = new TempDir();
        var ex = Assert.Throws<LlamaException>(() => LlamaLibraryLocator.Locate(LlamaBackend.Cuda, dir.Path, _ => null, _ => true));
        Assert.Contains("libllama.cuda.v0.5.0.so", ex.Message, StringComparison.Ordinal);
        Assert.Contains("libggml-cuda.so", ex.Message, StringComparison.Ordinal);
        Assert.Contains("@node-llama-cpp/linux-x64-cuda@3.22.1", ex.Message, StringComparison.Ordinal);
        Assert.Contains("COCOON_LLAMA_LIB_DIR", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CudaOnAMachineWithoutTheCudaRuntimeIsAClearError()
    {
        // The library files are present (empty stand-ins, never loaded); the host's CUDA runtime is checked for real.
        using var dir = new TempDir();
        Touch(dir, "libllama.cuda.v0.5.0.so", "libggml.cuda.v0.5.0.so", "libggml-cuda.so");
        if (LlamaInferenceService.CanLoadSystemLibrary("libcuda.so.1") && LlamaInferenceService.CanLoadSystemLibrary("libcudart.so.13"))
        {
            // A GPU host: the error cannot happen here, so the same call must pick the CUDA libraries instead.
            var location = LlamaLibraryLocator.Locate(LlamaBackend.Cuda, dir.Path, _ => null, LlamaInferenceService.CanLoadSystemLibrary);
            Assert.Equal("libllama.cuda.v0.5.0.so", location.LlamaFile);
            return;
        }

        var ex = Assert.Throws<LlamaException>(() =>
            LlamaLibraryLocator.Locate(LlamaBackend.Cuda, dir.Path, _ => null, LlamaInferenceService.CanLoadSystemLibrary));
        Assert.Contains("could not be loaded", ex.Message, StringComparison.Ordinal);
        Assert.Contains("COCOON_LLAMA_BACKEND=cpu", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CudaWithTheRuntimePresentPicksTheCudaLibraries()
    {
        using var dir = new TempDir();
        Touch(dir, "libllama.cuda.v0.5.0.so", "libggml.cuda.v0.5.0.so", "libggml-cuda.so");
        var location = LlamaLibraryLocator.Locate(LlamaBackend.Cuda, dir.Path, _ => null, _ => true);
        Assert.Equal("libllama.cuda.v0.5.0.so", location.LlamaFile);
    }

    [Fact]
    public void AMissingCpuFolderIsAClearError()
    {
        using var dir = new TempDir();
        var ex = Assert.Throws<LlamaException>(() => LlamaLibraryLocator.Locate(LlamaBackend.Cpu, Path.Combine(dir.Path, "nope"), _ => null, _ => true));
        Assert.Contains("libllama.v0.5.0.so", ex.Message, StringComparison.Ordinal);
        Assert.Contains("./cocoon", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Llama:Backend", "metal", "COCOON_LLAMA_BACKEND", typeof(LlamaException))]
    [InlineData("Llama:Threads", "-1", "Llama:Threads", typeof(InvalidOperationException))]
    [InlineData("Llama:ContextSize", "4", "Llama:ContextSize", typeof(InvalidOperationException))]
    [InlineData("Llama:MaxConcurrency", "0", "Llama:MaxConcurrency", typeof(InvalidOperationException))]
    [InlineData("Llama:BatchSize", "lots", "Llama:BatchSize", typeof(InvalidOperationException))]
    [InlineData("Llama:ThreadPoll", "101", "Llama:ThreadPoll", typeof(InvalidOperationException))]
    public void BadOptionsNameTheSetting(string key, string value, string named, Type expected)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { [key] = value }).Build();
        var ex = Assert.Throws(expected, () => LlamaInferenceOptions.FromConfiguration(configuration).Validate());
        Assert.Contains(named, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TheDefaultModelSearchNamesEveryPlace()
    {
        using var dir = new TempDir();
        var work = Directory.CreateDirectory(Path.Combine(dir.Path, "repo")).FullName;
        var ex = Assert.Throws<FileNotFoundException>(() => ModelLocator.Resolve(null, work));
        Assert.Contains("COCOON_MODEL", ex.Message, StringComparison.Ordinal);
        Assert.Contains(Path.Combine(work, "models"), ex.Message, StringComparison.Ordinal);
        Assert.Contains("stories260K.gguf", ex.Message, StringComparison.Ordinal);

        var shared = Directory.CreateDirectory(Path.Combine(dir.Path, "shared", "models")).FullName;
        File.WriteAllText(Path.Combine(shared, "stories260K.gguf"), "GGUF");
        Assert.Equal(Path.Combine(shared, "stories260K.gguf"), ModelLocator.Resolve(null, work));

        Directory.CreateDirectory(Path.Combine(work, "models"));
        File.WriteAllText(Path.Combine(work, "models", "b.gguf"), "GGUF");
        Assert.Equal(Path.Combine(work, "models", "b.gguf"), ModelLocator.Resolve(null, work));
        Assert.Equal(Path.Combine(shared, "stories260K.gguf"), ModelLocator.Resolve(Path.Combine(shared, "stories260K.gguf"), work));
        Assert.Throws<FileNotFoundException>(() => ModelLocator.Resolve("missing.gguf", work));
    }

    private static void Touch(TempDir dir, params string[] names)
    {
        foreach (var name in names)
        {
            File.WriteAllBytes(dir.File(name), []);
        }
    }
}
