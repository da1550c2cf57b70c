using System.Security.Claims;
using System.Text.Encodings.Web;
using Cocoon.Bot.Observability;
using Cocoon.Ledger.Accounts;
using Cocoon.Network.Transport;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using Polly.Registry;

namespace Cocoon.Bot.Api;

/// <summary>The <c>/v1</c> API's bearer keys as an ASP.NET Core authentication scheme.</summary>
internal static class ApiKeyAuthentication
{
    public const string Scheme = "CocoonApiKey";

    public const string Policy = "cocoon-api-key";

    /// <summary>The claim that names the ledger account paying for the request.</summary>
    public const string PayerClaim = "cocoon:payer";

    public const string MissingKey = "You didn't provide an API key. Send it as 'Authorization: Bearer KEY' (./cocoon up prints the local key; the bot's /apikey creates one).";
    public const string NotBearer = "The Authorization header must be 'Bearer KEY'.";
    public const string UnknownKey = "Incorrect API key provided.";

    /// <summary>
    /// Registers the scheme and a policy for it, but not as the default scheme: only the <c>/v1</c> group asks for
    /// it, so the Mini App, the webhook and health checks never look a Bearer header up in Redis.
    /// </summary>
    public static IServiceCollection AddApiKeyAuthentication(this IServiceCollection services)
    {
        services.AddAuthentication().AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(Scheme, null);
        services.AddAuthorizationBuilder()
            .AddPolicy(Policy, policy => policy.AddAuthenticationSchemes(Scheme).RequireAuthenticatedUser());
        return services;
    }

    /// <summary>The payer of an authenticated API request.</summary>
    public static AccountId Payer(this ClaimsPrincipal user) =>
        new(user.FindFirstValue(PayerClaim) ?? throw new InvalidOperationException("The request was not authenticated with an API key."));
}

/// <summary>Marks a <c>/v1</c> endpoint with the name its metrics carry, so a refused key is counted per endpoint.</summary>
internal sealed record ApiEndpointName(string Name, bool StampsRequest);

/// <summary>
/// Checks <c>Authorization: Bearer KEY</c> against <see cref="ApiKeyStore"/>. A missing or wrong key is answered
/// with OpenAI's 401 body (<c>invalid_api_key</c>) and <c>WWW-Authenticate: Bearer</c>, counted and logged as the
/// endpoint would have.
/// </summary>
internal sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory loggers,
    UrlEncoder encoder,
    ApiKeyStore keys,
    Hosting.LocalApiKeyRegistration local,
    ApiMetrics metrics,
    TimeProvider time,
    ResiliencePipelineProvider<string> pipelines)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, loggers, encoder)
{
    private const string BearerPrefix = "Bearer ";
    private static readonly TimeSpan LocalKeyWait = TimeSpan.FromSeconds(15);

    /// <summary>How long a key check waits for Redis to answer again (a local restart takes about a second).</summary>
    private static readonly TimeSpan KeyCheckPatience = TimeSpan.FromSeconds(10);

    private readonly ILogger _apiLogger = loggers.CreateLogger(ApiLog.Category);

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization.ToString();
        if (string.IsNullOrWhiteSpace(header))
        {
            return AuthenticateResult.NoResult();
        }

        if (!header.StartsWith(BearerPrefix, StringComparison.OrdinalIgnoreCase))
        {
            return AuthenticateResult.Fail(ApiKeyAuthentication.NotBearer);
        }

        // Keys live in the ledger database; only the store's one-time preparation (moving keys an older gateway left in
        // Redis) touches Redis, so a Redis restart during that first use is waited out through the cocoon-redis
        // pipeline for a bounded time instead of being answered with a 500.
        AccountId? payer = null;
        var key = header[BearerPrefix.Length..].Trim();
        await pipelines.GetPipeline(RedisResilience.Pipeline).ExecuteAsync(
            async ct => payer = await keys.ValidateAsync(key, ct),
            (e, delay) => ApiLog.KeyCheckRetry(_apiLogger, delay.TotalMilliseconds, e),
            Context.RequestAborted,
            time.GetUtcNow() + KeyCheckPatience);
        if (payer is null && !local.Registered.IsCompleted)
        {
            // Just after start the local key may not be in the store yet: wait for it (briefly) before refusing.
            try
            {
                await local.Registered.WaitAsync(LocalKeyWait, Context.RequestAborted);
                payer = await keys.ValidateAsync(key, Context.RequestAborted);
            }
            catch (TimeoutException)
            {
            }
        }

        if (payer is not { } found)
        {
            return AuthenticateResult.Fail(ApiKeyAuthentication.UnknownKey);
        }

        var identity = new ClaimsIdentity([new Claim(ApiKeyAuthentication.PayerClaim, found.Value)], ApiKeyAuthentication.Scheme);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), ApiKeyAuthentication.Scheme));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var result = await HandleAuthenticateOnceSafeAsync();
        var problem = ApiProblem.Unauthorized(result.Failure?.Message ?? ApiKeyAuthentication.MissingKey);

        // RFC 6750 §3: a 401 names the scheme to use; a Bearer key that was sent but is unknown is "invalid_token",
        // while a request with no Bearer key gets no error code.
        Response.Headers.WWWAuthenticate = result.Failure?.Message == ApiKeyAuthentication.UnknownKey
            ? "Bearer error=\"invalid_token\""
            : "Bearer";

        var endpoint = Context.GetEndpoint()?.Metadata.GetMetadata<ApiEndpointName>();
        if (endpoint is { StampsRequest: true })
        {
            // The completion endpoints stamp every answer, refusals included, as they did before the key check moved here.
            var requestId = CompletionEndpoints.NewRequestId();
            Response.Headers["X-Request-Id"] = requestId;
            Response.Headers["X-Cocoon-Gateway-Start"] = CompletionEndpoints.Stamp(time.GetUtcNow());
            metrics.Refusal(problem.Code);
            ApiLog.Refused(_apiLogger, requestId, problem.Status, problem.Code);
        }
        else if (endpoint is not null)
        {
            metrics.Refusal(problem.Code);
        }

        if (endpoint is not null)
        {
            metrics.Request(endpoint.Name, problem.Status);
        }

        await problem.ToResult().ExecuteAsync(Context);
    }
}
