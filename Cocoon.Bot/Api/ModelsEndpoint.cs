using Cocoon.Bot.Observability;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Cocoon.Bot.Api;

/// <summary><c>GET /v1/models</c>: the models attested workers serve now, with each worker's price and load.</summary>
internal static class ModelsEndpoint
{
    public static async Task<Results<JsonHttpResult<ModelList>, ApiProblemResult>> ListAsync(
        ServedModels served, ApiMetrics metrics, CancellationToken cancellationToken)
    {
        try
        {
            var models = await served.RefreshAsync(cancellationToken);
            var list = new ModelList("list", models.Select(m => new ModelDto(
                m.Name, "model", 0, "cocoon", m.Sha256,
                m.Workers.Select(w => new ModelWorkerDto(w.WorkerId, w.ProviderId, w.PriceCoefficient, w.Running, w.MaxConcurrency, w.AttestationKind)).ToList())).ToList());
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
}
