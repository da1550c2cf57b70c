using System.Buffers.Binary;
using Cocoon.Engine.Protocol;
using Cocoon.Testing;
using Cocoon.Testing.Onnx;
using Cocoon.Worker.Embeddings;
using Cocoon.Worker.Inference;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Cocoon.Worker.Tests.Embeddings;

/// <summary>
/// The embedding service on the synthetic ONNX model, in a real host, against an independent reference: onnxruntime-node
/// 1.30.0 with its own WordPiece, one input per run (no padding), on the same file.
/// </summary>
public sealed class EmbeddingServiceTests
{
    /// <summary>
    /// Two ONNX Runtime builds (1.31.1 .NET, 1.30.0 Node), batched-with-padding against one-at-a-time, float32 against a
    /// float64 pooling in JavaScript: elements of these unit vectors agree to 1e-5 absolute (they are ~0.2 in size).
    /// </summary>
    public const float Tolerance = 1e-5f;

    internal static readonly string[] Texts =
    [
        "Hello, world!",
        "The cats sat on the mat.",
        "Once upon a time there was a private network.",
        "how to cache embeddings for a knowledge base? query 42",
        "Telegram",
    ];

    internal static async Task<IHost> StartAsync(TempDir data, string pooling = "mean", bool normalize = true, IDictionary<string, string?>? extra = null)
    {
        var model = SyntheticOnnxEmbedding.Write(data.File("synthetic-embed"));
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        var settings = new Dictionary<string, string?>
        {
            ["Embeddings:Model"] = model,
            ["Embeddings:Pooling"] = pooling,
            ["Embeddings:Normalize"] = normalize ? "true" : "false",
            ["Embeddings:MaxTokens"] = SyntheticOnnxEmbedding.MaxPositions.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Embeddings:Threads"] = "1",
            ["Cocoon:DataDir"] = data.Path,
        };
        foreach (var (k, v) in extra ?? new Dictionary<string, string?>())
        {
            settings[k] = v;
        }

        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddOnnxEmbeddings(builder.Configuration);
        var host = builder.Build();
        await host.StartAsync();
        return host;
    }

    internal static float[][] Vectors(EmbeddingResult result)
    {
        var rows = new float[result.TokenCounts.Count][];
        for (var i = 0; i < rows.Length; i++)
        {
            rows[i] = new float[result.Dimensions];
            for (var j = 0; j < result.Dimensions; j++)
            {
                rows[i][j] = BinaryPrimitives.ReadSingleLittleEndian(result.Vectors.AsSpan(((i * result.Dimensions) + j) * 4));
            }
        }

        return rows;
    }

    private static EmbeddingRequest Request(params string[] texts) => new() { Inputs = [.. texts.Select(t => new EmbeddingInput { Text = t })] };

    [Theory]
    [InlineData("mean", true)]
    [InlineData("cls", false)]
    public async Task Vectors_match_onnxruntime_node_on_the_same_file_with_the_same_tokenisation(string pooling, bool normalize)
    {
        using var data = new TempDir("cocoon-embed");
        using var host = await StartAsync(data, pooling, normalize);
        var service = host.Services.GetRequiredService<IEmbeddingService>();

        // All five in one request: they run as one padded batch.
        var result = await service.EmbedAsync(Request(Texts), CancellationToken.None);
        var (ids, expected) = await NodeEmbeddingReference.EmbedAsync(data.File("synthetic-embed"), pooling, normalize, Texts);

        Assert.Equal(SyntheticOnnxEmbedding.Dimensions, result.Dimensions);
        Assert.Equal(ids.Select(r => r.Length), result.TokenCounts);
        Assert.DoesNotContain(ids.SelectMany(r => r), id => id == 100); // no [UNK]: the vocabulary covers the texts
        var vectors = Vectors(result);
        for (var i = 0; i < Texts.Length; i++)
        {
            for (var j = 0; j < result.Dimensions; j++)
            {
                Assert.True(Math.Abs(vectors[i][j] - expected[i][j]) <= Tolerance, $"input {i} element {j}: {vectors[i][j]} vs {expected[i][j]}");
            }

            var norm = Math.Sqrt(vectors[i].Sum(x => (double)x * x));
            if (normalize)
            {
                Assert.Equal(1.0, norm, 5);
            }
        }
    }

    [Fact]
    public async Task The_model_is_attested_as_an_embedding_model_named_by_the_hash_of_its_files_and_settings()
    {
        using var data = new TempDir("cocoon-embed");
        using var host = await StartAsync(data);
        var inference = host.Services.GetRequiredService<IInferenceService>();
        Assert.Equal(ModelKinds.Embedding, inference.Model.Kind);
        Assert.Equal(SyntheticOnnxEmbedding.Dimensions, inference.Model.EmbeddingDimensions);
        Assert.Equal(SyntheticOnnxEmbedding.MaxPositions, inference.Model.ContextLength);
        Assert.Equal("synthetic-embed", inference.Model.Name);

        var options = host.Services.GetRequiredService<EmbeddingOptions>();
        var manifest = EmbeddingModelIdentity.Manifest(
            Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(await File.ReadAllBytesAsync(options.Model))),
            Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(await File.ReadAllBytesAsync(options.Vocab))),
            options);
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(manifest))), inference.Model.Sha256);
        Assert.Contains("pooling mean\nnormalize true\n", manifest, StringComparison.Ordinal);

        // The same file with another pooling is another model to the market.
        using var other = new TempDir("cocoon-embed");
        using var cls = await StartAsync(other, "cls");
        Assert.NotEqual(inference.Model.Sha256, cls.Services.GetRequiredService<IInferenceService>().Model.Sha256);

        await Assert.ThrowsAsync<ArgumentException>(async () =>
        {
            await foreach (var _ in inference.GenerateAsync(new GenerationRequest { Prompt = "x" }, CancellationToken.None))
            {
            }
        });
    }

    [Fact]
    public async Task Token_arrays_give_the_same_vector_as_their_text_and_batching_does_not_change_vectors()
    {
        using var data = new TempDir("cocoon-embed");
        using var host = await StartAsync(data);
        var service = host.Services.GetRequiredService<IEmbeddingService>();
        var (ids, _) = await NodeEmbeddingReference.EmbedAsync(data.File("synthetic-embed"), "mean", true, ["The cats sat on the mat."]);
        var tokens = ids[0][1..^1];

        var alone = Vectors(await service.EmbedAsync(Request("The cats sat on the mat."), CancellationToken.None))[0];
        var asTokens = Vectors(await service.EmbedAsync(new EmbeddingRequest { Inputs = [new EmbeddingInput { Tokens = tokens }] }, CancellationToken.None))[0];
        var batched = Vectors(await service.EmbedAsync(Request([.. Texts, .. Texts]), CancellationToken.None));
        for (var j = 0; j < alone.Length; j++)
        {
            Assert.Equal(alone[j], asTokens[j]);
            Assert.True(Math.Abs(alone[j] - batched[1][j]) <= Tolerance);
            Assert.Equal(batched[1][j], batched[Texts.Length + 1][j]);
        }
    }

    [Fact]
    public async Task A_too_long_input_is_refused_with_the_numbers_unless_truncation_is_asked_for()
    {
        using var data = new TempDir("cocoon-embed");
        using var host = await StartAsync(data);
        var service = host.Services.GetRequiredService<IEmbeddingService>();
        var longText = string.Join(' ', Enumerable.Repeat("cat", 200));

        var refused = await Assert.ThrowsAsync<InputTooLongException>(() => service.EmbedAsync(Request("hello", longText), CancellationToken.None));
        Assert.Equal(1, refused.Index);
        Assert.Equal(202, refused.Tokens);
        Assert.Equal(128, refused.MaxTokens);
        Assert.Equal(refused.Message, InputTooLongException.FromReasonCode(refused.ReasonCode)!.Message);
        Assert.Contains("\"truncate\": true", refused.Message, StringComparison.Ordinal);

        var cut = await service.EmbedAsync(new EmbeddingRequest { Inputs = [new EmbeddingInput { Text = "hello" }, new EmbeddingInput { Text = longText }], Truncate = true }, CancellationToken.None);
        Assert.Equal([3, 128], cut.TokenCounts);
        Assert.Equal([1], cut.Truncated);
    }

    [Fact]
    public async Task A_cancelled_request_ends_and_the_service_keeps_serving()
    {
        using var data = new TempDir("cocoon-embed");
        using var host = await StartAsync(data, extra: new Dictionary<string, string?> { ["Embeddings:QueueCapacity"] = "4", ["Embeddings:MaxBatch"] = "2" });
        var service = host.Services.GetRequiredService<IEmbeddingService>();
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => service.EmbedAsync(Request([.. Enumerable.Repeat("hello world", 64)]), cts.Token));

        // More inputs than the queue holds: the writer waits for room instead of failing.
        var many = await service.EmbedAsync(Request([.. Enumerable.Repeat("hello world", 40)]), CancellationToken.None);
        Assert.Equal(40, many.TokenCounts.Count);
    }

    [Fact]
    public void Cuda_without_a_gpu_or_on_the_cpu_build_is_a_clear_error()
    {
        // This machine's real answer for the driver, as the llama.cpp CUDA test does.
        if (!OnnxSessionFactory.CanLoadSystemLibrary("libcuda.so.1"))
        {
            var none = Assert.Throws<OnnxBackendException>(() => OnnxSessionFactory.CheckCuda(OnnxSessionFactory.CanLoadSystemLibrary, ["CPUExecutionProvider"]));
            Assert.Contains("no usable NVIDIA GPU/CUDA runtime", none.Message, StringComparison.Ordinal);
            Assert.Contains("libcuda.so.1", none.Message, StringComparison.Ordinal);
            Assert.Contains("Embeddings:Backend=cpu", none.Message, StringComparison.Ordinal);
        }

        // With the runtime present but the CPU package built in, the error says how to build on the GPU package.
        var cpuBuild = Assert.Throws<OnnxBackendException>(() => OnnxSessionFactory.CheckCuda(_ => true, Microsoft.ML.OnnxRuntime.OrtEnv.Instance().GetAvailableProviders()));
        Assert.Contains("-p:CocoonOnnxGpu=true", cpuBuild.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_worker_asked_for_cuda_here_stops_at_start_with_that_error()
    {
        using var data = new TempDir("cocoon-embed");
        var e = await Assert.ThrowsAsync<OnnxBackendException>(() => StartAsync(data, extra: new Dictionary<string, string?> { ["Embeddings:Backend"] = "cuda" }));
        Assert.Contains("Embeddings:Backend=cuda", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Embeddings:Pooling", "max", "'mean' or 'cls'")]
    [InlineData("Embeddings:Backend", "rocm", "'cpu' (the default) or 'cuda'")]
    [InlineData("Embeddings:MaxBatch", "0", "Embeddings:MaxBatch is 0")]
    public void Bad_settings_name_the_setting_and_the_fix(string key, string value, string expected)
    {
        using var data = new TempDir("cocoon-embed");
        var model = SyntheticOnnxEmbedding.Write(data.File("m"));
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Embeddings:Model"] = model, [key] = value }).Build();
        var e = Assert.Throws<InvalidOperationException>(() => new ServiceCollection().AddOnnxEmbeddings(configuration));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }
}
