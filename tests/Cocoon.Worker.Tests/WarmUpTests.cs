using System.Text;
using Cocoon.Engine.Protocol;
using Cocoon.Testing;
using Cocoon.Worker.Inference;

namespace Cocoon.Worker.Tests;

/// <summary>The warm-up at load (Llama:WarmUp) leaves the state of a fresh context: same answers, counters at zero.</summary>
public sealed class WarmUpTests : IDisposable
{
    private readonly TempDir _dir = new("cocoon-warmup-test");

    [Fact]
    public async Task AWarmedUpServiceGivesTheSameAnswersAsAColdOne()
    {
        using var cold = await LoadAsync(warmUp: false);
        using var warm = await LoadAsync(warmUp: true);
        foreach (var sampling in new[]
        {
            new SamplingOptions { MaxTokens = 48, Temperature = 0 },
            new SamplingOptions { MaxTokens = 48, Temperature = 0.8f, Seed = 1234 },
        })
        {
            var request = new GenerationRequest { Prompt = "Once upon a time", Sampling = sampling };
            var (coldText, coldTokens) = await AnswerAsync(cold, request);
            var (warmText, warmTokens) = await AnswerAsync(warm, request);
            Assert.NotEmpty(warmText);
            Assert.Equal(coldText, warmText);
            Assert.Equal(coldTokens, warmTokens);
        }
    }

    [Fact]
    public async Task TheWarmUpLeavesNoTraceInTheCountersOrTheSlots()
    {
        using var warm = await LoadAsync(warmUp: true);
        Assert.Equal(0, warm.DecodeSteps);
        Assert.Equal(new DecodeLoopStats(0, TimeSpan.Zero, TimeSpan.Zero), warm.Stats);
        Assert.Equal(warm.MaxConcurrency, warm.FreeSequences);
        Assert.Equal(0, warm.CacheStats.Lookups);
    }

    public void Dispose() => _dir.Dispose();

    private Task<LlamaInferenceService> LoadAsync(bool warmUp) =>
        LlamaInferenceService.LoadAsync(
            LlamaFixture.Options(_dir) with { MaxConcurrency = 2, WarmUp = warmUp }, LlamaFixture.Loggers, TimeProvider.System, null, CancellationToken.None);

    private static async Task<(string Text, IReadOnlyList<int> Tokens)> AnswerAsync(LlamaInferenceService service, GenerationRequest request)
    {
        var text = new StringBuilder();
        IReadOnlyList<int> tokens = [];
        await foreach (var chunk in service.GenerateAsync(request, CancellationToken.None))
        {
            text.Append(chunk.Text);
            tokens = chunk.Usage?.AnswerTokens ?? tokens;
        }

        return (text.ToString(), tokens);
    }
}
