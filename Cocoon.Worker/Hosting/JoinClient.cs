using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Cocoon.Network.Access;

namespace Cocoon.Worker.Hosting;

/// <summary>The worker's side of the join endpoint: join, ask for its status, leave. The provider's token is the Bearer credential.</summary>
public sealed class JoinClient(HttpClient http, Uri joinUrl, string token)
{
    public Task<(JoinGrant? Grant, JoinRefusal? Refusal)> JoinAsync(string attestationJson, CancellationToken cancellationToken) =>
        JoinAsync(attestationJson, null, cancellationToken);

    /// <summary>Joins with the worker's key certified by its provider's key (the certificate's JSON; null: none).</summary>
    public async Task<(JoinGrant? Grant, JoinRefusal? Refusal)> JoinAsync(string attestationJson, string? certificateJson, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, joinUrl)
        {
            Content = JsonContent.Create(new JoinRequest(attestationJson, certificateJson), JoinJsonContext.Default.JoinRequest),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return response.IsSuccessStatusCode
                ? (JsonSerializer.Deserialize(body, JoinJsonContext.Default.JoinGrant), null)
                : (null, JsonSerializer.Deserialize(body, JoinJsonContext.Default.JoinRefusal));
        }
        catch (JsonException)
        {
            // Not the join endpoint (a wrong COCOON_JOIN_URL, a proxy's error page): say so with the status.
            return (null, new JoinRefusal("no-join-endpoint", $"{joinUrl} answered {(int)response.StatusCode} {response.ReasonPhrase} without a join answer",
                "Check COCOON_JOIN_URL: it is the URL the bot's /provider register printed (ending in /v1/network/join).", (int)response.StatusCode >= 500));
        }
    }

    public async Task<JoinStatus?> StatusAsync(string workerId, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(joinUrl + "/" + Uri.EscapeDataString(workerId)));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        return response.IsSuccessStatusCode
            ? await response.Content.ReadFromJsonAsync(JoinJsonContext.Default.JoinStatus, cancellationToken).ConfigureAwait(false)
            : null;
    }

    public async Task LeaveAsync(string workerId, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Delete, new Uri(joinUrl + "/" + Uri.EscapeDataString(workerId)));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
    }
}
