// Pressline search: runs in the browser, no server. Loads /search/manifest.json, then
// the per-month shards newest first (a few at a time), and shows matches as they arrive,
// so recent posts are found at once and every post is searched in the end.
(function () {
  "use strict";
  var MANIFEST = "/search/manifest.json";
  var PARALLEL = 4;
  var MAX_RESULTS = 50;
  var shards = null; // [{month, url, docs|null, promise}]
  var generation = 0;

  function terms(text) {
    return (text || "").toLowerCase().normalize("NFKD").replace(/[\u0300-\u036f]/g, "")
      .split(/[^\p{L}\p{N}]+/u).filter(function (t) { return t.length > 0; });
  }

  function fold(text) {
    return (text || "").toLowerCase().normalize("NFKD").replace(/[\u0300-\u036f]/g, "");
  }

  function prepare(doc) {
    doc._title = fold(doc.t);
    doc._tags = fold((doc.g || []).join(" "));
    doc._summary = fold(doc.s);
    doc._words = " " + fold(doc.w) + " ";
    return doc;
  }

  // Every term must match somewhere; title and tag matches weigh more than body words.
  function score(doc, query) {
    var total = 0;
    for (var i = 0; i < query.length; i++) {
      var term = query[i];
      var best = 0;
      if (doc._title.indexOf(term) >= 0) best = 10;
      else if (doc._tags.indexOf(term) >= 0) best = 6;
      else if (doc._summary.indexOf(term) >= 0) best = 3;
      else if (doc._words.indexOf(" " + term) >= 0) best = 1;
      if (!best) return 0;
      total += best;
    }
    return total;
  }

  function loadManifest() {
    if (shards) return Promise.resolve(shards);
    return fetch(MANIFEST, { cache: "no-cache" }).then(function (response) {
      if (!response.ok) throw new Error("manifest " + response.status);
      return response.json();
    }).then(function (manifest) {
      shards = (manifest.shards || []).map(function (s) { return { month: s.month, url: s.url, docs: null, promise: null }; });
      return shards;
    });
  }

  function loadShard(shard) {
    if (!shard.promise) {
      shard.promise = fetch(shard.url, { cache: "no-cache" }).then(function (response) {
        if (!response.ok) return [];
        return response.json().then(function (data) { return (data.posts || []).map(prepare); });
      }).catch(function () { return []; }).then(function (docs) { shard.docs = docs; return docs; });
    }
    return shard.promise;
  }

  function show(results, query, done, searched, total) {
    var list = document.getElementById("search-results");
    var statusNode = document.getElementById("search-status");
    results.sort(function (a, b) { return b.score - a.score || (a.doc.d < b.doc.d ? 1 : -1); });
    list.textContent = "";
    results.slice(0, MAX_RESULTS).forEach(function (hit) {
      var item = document.createElement("li");
      var heading = document.createElement("h2");
      var link = document.createElement("a");
      link.href = hit.doc.u;
      link.textContent = hit.doc.t;
      heading.appendChild(link);
      item.appendChild(heading);
      var meta = document.createElement("p");
      meta.className = "post-meta";
      var when = document.createElement("time");
      when.dateTime = hit.doc.d;
      // The index carries the date as the pages print it; a shard written before it did shows
      // the ISO day until its month is next rewritten (or `pressline rebuild`).
      when.textContent = hit.doc.f || String(hit.doc.d).slice(0, 10);
      meta.appendChild(when);
      if (hit.doc.g && hit.doc.g.length) meta.appendChild(document.createTextNode(" · " + hit.doc.g.join(", ")));
      item.appendChild(meta);
      if (hit.doc.s) {
        var summary = document.createElement("p");
        summary.textContent = hit.doc.s;
        item.appendChild(summary);
      }
      list.appendChild(item);
    });
    var found = results.length === 1 ? "1 post" : results.length + " posts";
    statusNode.textContent = done
      ? (results.length ? found + " found." : "No post matches “" + query + "”.")
      : found + " found so far (searched " + searched + " of " + total + " months)…";
  }

  function search(query) {
    var mine = ++generation;
    var words = terms(query);
    if (!words.length) { show([], query, true, 0, 0); document.getElementById("search-status").textContent = ""; return; }
    document.getElementById("search-status").textContent = "Searching…";
    loadManifest().then(function (all) {
      var results = [];
      var next = 0;
      var searched = 0;
      function take(docs) {
        if (mine !== generation) return;
        docs.forEach(function (doc) {
          var s = score(doc, words);
          if (s) results.push({ score: s, doc: doc });
        });
        searched++;
        show(results, query, searched === all.length, searched, all.length);
      }
      function worker() {
        if (mine !== generation || next >= all.length) return Promise.resolve();
        var shard = all[next++];
        return loadShard(shard).then(take).then(worker);
      }
      if (!all.length) { show([], query, true, 0, 0); return; }
      var workers = [];
      for (var i = 0; i < PARALLEL; i++) workers.push(worker());
      return Promise.all(workers);
    }).catch(function () {
      document.getElementById("search-status").textContent = "Search is not available right now. The archives list every post.";
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var input = document.getElementById("search-query");
    var form = input && input.form;
    if (!input) return;
    var initial = new URLSearchParams(window.location.search).get("q") || "";
    input.value = initial;
    var timer = null;
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var url = new URL(window.location.href);
        if (input.value) url.searchParams.set("q", input.value); else url.searchParams.delete("q");
        window.history.replaceState(null, "", url);
        search(input.value);
      }, 200);
    });
    form.addEventListener("submit", function (event) { event.preventDefault(); search(input.value); });
    if (initial) search(initial);
  });
})();
