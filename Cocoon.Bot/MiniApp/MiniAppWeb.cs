using System.Text.Json.Nodes;
using Microsoft.AspNetCore.StaticFiles;
using Microsoft.Extensions.FileProviders;

namespace Cocoon.Bot.MiniApp;

/// <summary>
/// Serves the Mini App's built front end (Cocoon.Bot/MiniApp/web, bundled by esbuild into web/dist by ./cocoon) under
/// /miniapp/, and the TON Connect manifest wallets fetch. Where the files are: MiniApp:WebRoot when set; else the
/// repository's web/dist when the gateway runs from a checkout (so a rebuilt bundle is served without a dotnet
/// build); else the copy the build put next to the binary (miniapp-web/). Without a bundle, /miniapp/ answers 503
/// with a page that says how to build it.
/// </summary>
internal static class MiniAppWeb
{
    private static readonly FileExtensionContentTypeProvider ContentTypes = new();

    public static string? FindRoot(string? configured)
    {
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return Directory.Exists(configured) ? Path.GetFullPath(configured) : null;
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "Cocoon.Bot", "MiniApp", "web", "dist");
            if (File.Exists(Path.Combine(candidate, "index.html")))
            {
                return candidate;
            }
        }

        var beside = Path.Combine(AppContext.BaseDirectory, "miniapp-web");
        return File.Exists(Path.Combine(beside, "index.html")) ? beside : null;
    }

    public static void Map(WebApplication app, string? root)
    {
        var files = root is null ? null : new PhysicalFileProvider(root);

        // Routing ignores the trailing slash, but the page's relative URLs need it.
        app.MapGet("/miniapp/", (HttpContext http) => http.Request.Path.Value?.EndsWith('/') == true
            ? Serve(http, files, "index.html")
            : Results.Redirect(http.Request.PathBase + "/miniapp/"));

        // The manifest names this gateway's own address, so wallets show the user where they are logging in.
        app.MapGet("/miniapp/tonconnect-manifest.json", (HttpContext http) =>
        {
            var origin = $"{http.Request.Scheme}://{http.Request.Host}{http.Request.PathBase}";
            var manifest = new JsonObject
            {
                ["url"] = origin + "/miniapp/",
                ["name"] = "Cocoon",
                ["iconUrl"] = origin + "/miniapp/icon.png",
            };
            return Results.Text(manifest.ToJsonString(), "application/json");
        });

        app.MapGet("/miniapp/{**file}", (HttpContext http, string file) => file.StartsWith("api/", StringComparison.Ordinal)
            ? Results.NotFound()
            : Serve(http, files, file));
    }

    private static IResult Serve(HttpContext http, PhysicalFileProvider? files, string name)
    {
        if (files is null)
        {
            return Results.Content(MissingBundlePage, "text/html; charset=utf-8", statusCode: StatusCodes.Status503ServiceUnavailable);
        }

        // PhysicalFileProvider refuses paths that leave the root ("..", absolute paths).
        var info = files.GetFileInfo(name);
        if (!info.Exists || info.IsDirectory || info.PhysicalPath is null)
        {
            return Results.NotFound();
        }

        // No hashed file names: the browser revalidates (ETag / Last-Modified) instead of keeping a stale bundle.
        http.Response.Headers.CacheControl = "no-cache";
        var type = ContentTypes.TryGetContentType(name, out var t) ? t : "application/octet-stream";
        if (type.StartsWith("text/", StringComparison.Ordinal) || type is "application/javascript" or "text/javascript")
        {
            type += "; charset=utf-8";
        }

        return Results.File(info.PhysicalPath, type, lastModified: info.LastModified, enableRangeProcessing: false);
    }

    private const string MissingBundlePage = """
<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Cocoon Mini App: not built</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:34rem;padding:0 1rem;line-height:1.5}code{background:#f1f1f4;padding:.1rem .3rem;border-radius:.3rem}</style>
</head><body>
<h1>The Mini App is not built on this gateway</h1>
<p>The gateway serves the Mini App from its esbuild bundle, and none was found.</p>
<p>Build it with <code>./cocoon up</code> (it runs <code>npm ci</code> and <code>npm run build</code> in
<code>Cocoon.Bot/MiniApp/web</code>), or set <code>MiniApp:WebRoot</code> (<code>MiniApp__WebRoot</code>) to a folder holding the built files.</p>
</body></html>
""";
}
