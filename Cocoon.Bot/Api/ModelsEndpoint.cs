using Cocoon.Bot.Observability;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Cocoon.Bot.Api;

/// <summary><c>GET /v1/models</c>: the models attested workers serve now, with each worker's price and load.</summary>
internal static class ModelsEndpoint
{
    public static async Task<Results<JsonHttpResult<ModelList>, ApiProblemResult>> ListAsync(
        ServedModels served, Cocoon.Engine.Pricing.PriceTable prices, ApiMetrics metrics, CancellationToken cancellationToken)
    {
        try
        {
            var models = await served.RefreshAsync(cancellationToken);
            var list = new ModelList("list", models.Select(m => new ModelDto(
                m.Name, "model", 0, "cocoon", m.Sha256,
                m.Workers.Select(w => new ModelWorkerDto(w.WorkerId, w.ProviderId, w.PriceCoefficient, w.Running, w.MaxConcurrency, w.AttestationKind) { Tier = w.Tier }).ToList())
            {
                Tiers = Tiers(m, prices),
            }).ToList());
            metrics.Request("models", StatusCodes.Status200OK);
            return TypedResults.Json(list, ApiJsonContext.Default.ModelList);
        }
        catch (ApiProblem problem)
        {
            metrics.Request("models", problem.Status);
            metrics.Refusal(problem.Code);
            return problem.ToResult();
        }
    }

    /// <summary>Each tier the model has a worker in, strongest first, with that tier's list prices.</summary>
    private static List<ModelTierDto> Tiers(Dispatch.ServedModel model, Cocoon.Engine.Pricing.PriceTable prices)
    {
        var tiers = new List<ModelTierDto>();
        foreach (var tier in Cocoon.Engine.Matching.TrustTiers.All)
        {
            var workers = model.Workers.Count(w => w.Tier == tier);
            if (workers > 0)
            {
                var price = prices.For(model.Name, tier);
                tiers.Add(new ModelTierDto(tier, workers, price.PromptPerMillion, price.CachedPromptPerMillion, price.CompletionPerMillion));
            }
        }

        return tiers;
    }
}
