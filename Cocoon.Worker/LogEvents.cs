namespace Cocoon.Worker;

/// <summary>
/// The one registry of this project's log event ids (2000–2999): each feature owns a block of ids and its
/// [LoggerMessage] attributes use <c>EventId = LogEvents.Feature + n</c>, so an id is unique across the project at a
/// glance, and a test checks that every id across all projects is unique and inside its project's range.
/// </summary>
internal static class LogEvents
{
    public const int First = 2000;

    public const int Last = 2999;

    /// <summary>Llama.cpp's own log (Native/LlamaLog.cs).</summary>
    public const int LlamaCpp = 2000;

    /// <summary>Loading the llama.cpp libraries (Native/LlamaLibrary.cs).</summary>
    public const int NativeLibrary = 2010;

    /// <summary>The inference service (Inference/LlamaInferenceService.cs).</summary>
    public const int Inference = 2100;

    /// <summary>The continuous-batching loop (Inference/DecodeLoop.cs).</summary>
    public const int DecodeLoop = 2110;

    /// <summary>Loading the model (Inference/LlamaModelLoader.cs).</summary>
    public const int ModelLoader = 2120;

    /// <summary>The worker host: attest, register, consume (Hosting/WorkerLog.cs).</summary>
    public const int Host = 2200;
}
