using System.Runtime.CompilerServices;
using Cocoon.Bot.Reputation;
using Cocoon.Bot.Tests.Dispatch;
using Cocoon.Engine.Protocol;
using Cocoon.Worker.Inference;
using Microsoft.Extensions.DependencyInjection;

namespace Cocoon.Bot.Tests.Reputation;

/// <summary>
/// Spot checks of sampled answers in score mode on three real llama.cpp workers: the checker pre-fills the delivered
/// answer's tokens (sealed by the original worker) and the published rule judges them under the request's sampling.
/// </summary>
public sealed class ScoreReplayTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    private readonly CancellationToken _ct = new CancellationTokenSource(TimeSpan.FromSeconds(240)).Token;

    [Fact]
    public async Task A_sampled_answer_from_another_sampler_is_caught_and_an_honest_sampled_one_passes()
    {
        await using var scenario = await ReplayScenario.StartAsync(redis.Server, inner => new HotSamplerInference(inner), _ct);
        var (network, honest, second, cheater, payer) = scenario;
        var book = scenario.Book;

        static DispatchRequest Sampled(Cocoon.Ledger.Accounts.AccountId payer, string region) => DispatchNetwork.Request(payer, "Once upon a time", 48) is var r
            ? r with { Region = region, Generation = r.Generation with { Sampling = r.Generation.Sampling with { Temperature = 0.8f } } }
            : throw new InvalidOperationException();

        // The cheater samples hotter and unfiltered than asked: its answer is its own honest-looking text, tokens
        // and all, so only scoring the tokens under the request's sampling can tell.
        var (_, hot) = await network.AskAsync(Sampled(payer, "eu"), _ct);
        Assert.Equal(cheater.WorkerId, hot.WorkerId);
        await scenario.SpotCheckedAsync(cheater.WorkerId, failed: true, _ct);
        Assert.Contains(book.Model.Score(book.State(cheater.WorkerId)).Reasons, r => r.Code == "integrity-fault");

        var (_, fair) = await network.AskAsync(Sampled(payer, "us"), _ct);
        Assert.Equal(second.WorkerId, fair.WorkerId);
        await scenario.SpotCheckedAsync(second.WorkerId, failed: false, _ct);
        foreach (var id in new[] { honest.WorkerId, second.WorkerId })
        {
            var state = book.State(id);
            Assert.Equal(0, state.SpotChecksFailed + state.OverruledAsChecker + state.CanariesFailed);
        }
    }
}

/// <summary>A worker that answers from a hotter, unfiltered sampler than the request asks for (temperature 1.5, no top-k/top-p/min-p).</summary>
public sealed class HotSamplerInference(IInferenceService inner) : IInferenceService
{
    public ModelInfo Model => inner.Model;

    public int MaxConcurrency => inner.MaxConcurrency;

    public async IAsyncEnumerable<GenerationChunk> GenerateAsync(GenerationRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var hot = request with { Sampling = request.Sampling with { Temperature = 1.5f, TopK = 0, TopP = 1f, MinP = 0f } };
        await foreach (var chunk in inner.GenerateAsync(hot, cancellationToken).ConfigureAwait(false))
        {
            yield return chunk;
        }
    }
}
