using System.Text.Json;

namespace Cocoon.Testing.Onnx;

/// <summary>
/// The independent reference for embeddings: onnxruntime-node 1.30.0 (tests/Cocoon.Worker.Tests/Embeddings/node, with
/// a committed package-lock.json) runs the ONNX file one input at a time, after its own small BERT WordPiece.
/// </summary>
public static class NodeEmbeddingReference
{
    private static readonly NodeFolder Folder = new(Path.Combine("tests", "Cocoon.Worker.Tests", "Embeddings", "node"), "onnxruntime-node");

    /// <summary>The token ids (with [CLS]/[SEP]) and the pooled vectors of <paramref name="texts"/>.</summary>
    public static async Task<(int[][] Ids, double[][] Vectors)> EmbedAsync(string modelDir, string pooling, bool normalize, IReadOnlyList<string> texts)
    {
        var stdin = JsonSerializer.Serialize(new
        {
            model = Path.Combine(modelDir, SyntheticOnnxEmbedding.ModelFile),
            vocab = Path.Combine(modelDir, SyntheticOnnxEmbedding.VocabFile),
            inputs = texts,
            pooling,
            normalize,
        });
        var result = await Folder.RunAsync("embed.mjs", stdin: stdin);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"node embed.mjs failed (exit {result.ExitCode}): {result.Stderr}");
        }

        using var doc = JsonDocument.Parse(result.Stdout);
        var ids = doc.RootElement.GetProperty("ids").EnumerateArray().Select(r => r.EnumerateArray().Select(x => x.GetInt32()).ToArray()).ToArray();
        var vectors = doc.RootElement.GetProperty("vectors").EnumerateArray().Select(r => r.EnumerateArray().Select(x => x.GetDouble()).ToArray()).ToArray();
        return (ids, vectors);
    }
}
