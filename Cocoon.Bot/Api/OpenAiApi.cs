namespace Cocoon.Bot.Api;

/// <summary>
/// The OpenAI-compatible API under <c>/v1</c>: every endpoint but the unknown-path answer needs an API key
/// (<see cref="ApiKeyAuthenticationHandler"/>); the handlers get their services as parameters.
/// </summary>
internal static class OpenAiApi
{
    public static IEndpointRouteBuilder MapOpenAiApi(this IEndpointRouteBuilder app)
    {
        var v1 = app.MapGroup("/v1");
        var keyed = v1.MapGroup(string.Empty).RequireAuthorization(ApiKeyAuthentication.Policy);
        keyed.MapPost("/chat/completions", CompletionEndpoints.ChatCompletionsAsync).WithMetadata(new ApiEndpointName("chat.completions", StampsRequest: true));
        keyed.MapPost("/completions", CompletionEndpoints.CompletionsAsync).WithMetadata(new ApiEndpointName("completions", StampsRequest: true));
        keyed.MapPost("/embeddings", EmbeddingEndpoints.EmbeddingsAsync).WithMetadata(new ApiEndpointName("embeddings", StampsRequest: true));
        keyed.MapPost("/sealed/reserve", SealedEndpoints.ReserveAsync).WithMetadata(new ApiEndpointName("sealed.reserve", StampsRequest: false));
        keyed.MapPost("/sealed/chat/completions", SealedEndpoints.ChatAsync).WithMetadata(new ApiEndpointName("sealed.chat.completions", StampsRequest: false));
        keyed.MapGet("/models", ModelsEndpoint.ListAsync).WithMetadata(new ApiEndpointName("models", StampsRequest: false));
        keyed.MapGet("/receipts/{id}", ReceiptsEndpoint.GetAsync).WithMetadata(new ApiEndpointName("receipts", StampsRequest: false));
        keyed.MapGet("/attestation", AttestationEndpoint.GetAsync).WithMetadata(new ApiEndpointName("attestation", StampsRequest: false));
        v1.MapGet("/attestation/policy", AttestationPolicyEndpoint.Get);

        // Unknown /v1 paths answer in the API's own error format rather than an empty 404, key or no key.
        v1.Map("/{**rest}", (HttpRequest request) => new ApiProblem(
            StatusCodes.Status404NotFound, $"Unknown endpoint {request.Method} {request.Path}.", "invalid_request_error", null, "unknown_url").ToResult());
        return app;
    }
}
