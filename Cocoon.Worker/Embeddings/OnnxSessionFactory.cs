using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;

namespace Cocoon.Worker.Embeddings;

/// <summary>Raised when the configured ONNX Runtime backend cannot run here; the message says what to install or set.</summary>
public sealed class OnnxBackendException(string message) : Exception(message);

/// <summary>
/// Creates the one ONNX Runtime session of an embedding worker: the CPU execution provider by default, CUDA's when
/// Embeddings:Backend (or COCOON_LLAMA_BACKEND) is cuda. Asking for CUDA fails at start with the same kind of error as
/// the llama.cpp CUDA path when this machine has no NVIDIA driver/runtime, or when the worker was built on the CPU
/// package (the CPU and GPU packages ship the same native file, so a build holds one of them).
/// </summary>
public static class OnnxSessionFactory
{
    public const string CudaProvider = "CUDAExecutionProvider";

    /// <summary>What the CUDA execution provider of ONNX Runtime 1.31 loads from the host (driver, CUDA 12 runtime, cuBLAS, cuDNN 9).</summary>
    public static IReadOnlyList<string> CudaRuntimeLibraries { get; } = ["libcuda.so.1", "libcudart.so.12", "libcublas.so.12", "libcudnn.so.9"];

    public static InferenceSession Create(EmbeddingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        using var sessionOptions = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        };
        if (options.Threads > 0)
        {
            sessionOptions.IntraOpNumThreads = options.Threads;
            sessionOptions.InterOpNumThreads = 1;
        }

        if (options.Backend == "cuda")
        {
            CheckCuda(CanLoadSystemLibrary, OrtEnv.Instance().GetAvailableProviders());
            sessionOptions.AppendExecutionProvider_CUDA(0);
        }

        return new InferenceSession(options.Model, sessionOptions);
    }

    /// <summary>
    /// Throws unless the CUDA execution provider can run: the host's driver and runtime load (<paramref name="canLoadLibrary"/>)
    /// and this build of ONNX Runtime has the provider (<paramref name="availableProviders"/>).
    /// </summary>
    public static void CheckCuda(Func<string, bool> canLoadLibrary, IReadOnlyCollection<string> availableProviders)
    {
        ArgumentNullException.ThrowIfNull(canLoadLibrary);
        ArgumentNullException.ThrowIfNull(availableProviders);
        var absent = CudaRuntimeLibraries.Where(l => !canLoadLibrary(l)).ToList();
        if (absent.Count > 0)
        {
            throw new OnnxBackendException(
                $"Embeddings:Backend=cuda, but this machine has no usable NVIDIA GPU/CUDA runtime: {string.Join(", ", absent)} could not be loaded. " +
                "Install the NVIDIA driver (libcuda.so.1), the CUDA 12 runtime (libcudart.so.12, libcublas.so.12) and cuDNN 9 (libcudnn.so.9), or set Embeddings:Backend=cpu.");
        }

        if (!availableProviders.Contains(CudaProvider))
        {
            throw new OnnxBackendException(
                $"Embeddings:Backend=cuda, but this worker was built on the CPU package of ONNX Runtime (providers: {string.Join(", ", availableProviders)}). " +
                "Build it with `dotnet build -p:CocoonOnnxGpu=true` (Microsoft.ML.OnnxRuntime.Gpu), or set Embeddings:Backend=cpu.");
        }
    }

    public static bool CanLoadSystemLibrary(string name)
    {
        if (!NativeLibrary.TryLoad(name, out var handle))
        {
            return false;
        }

        NativeLibrary.Free(handle);
        return true;
    }
}
