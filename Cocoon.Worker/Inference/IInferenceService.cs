using Cocoon.Engine.Protocol;

namespace Cocoon.Worker.Inference;

/// <summary>
/// Serves many generations at once on one loaded model (continuous batching).
/// The stream ends with a chunk whose Usage is set. Invalid requests throw ArgumentException before any token.
/// </summary>
public interface IInferenceService
{
    ModelInfo Model { get; }

    /// <summary>How many sequences the service decodes together at most.</summary>
    int MaxConcurrency { get; }

    IAsyncEnumerable<GenerationChunk> GenerateAsync(GenerationRequest request, CancellationToken cancellationToken);
}
