(function () {
  "use strict";
  function setup(box) {
    var svg = box.querySelector("svg");
    var tip = box.querySelector(".tip");
    if (!svg || !tip) { return; }
    var pts = Array.prototype.slice.call(svg.querySelectorAll("circle.pt"));
    var xy = pts.map(function (p) {
      return [parseFloat(p.getAttribute("cx")), parseFloat(p.getAttribute("cy"))];
    });
    var groups = pts.map(function (p) { return p.parentNode; });
    var ring = document.createElementNS("http://www.w3.org/2000/svg", "circle");
    ring.setAttribute("r", "5.5");
    ring.setAttribute("stroke", "#111");
    ring.setAttribute("stroke-width", "1.5");
    ring.setAttribute("pointer-events", "none");
    ring.setAttribute("visibility", "hidden");
    svg.appendChild(ring);
    function hide() {
      tip.hidden = true;
      ring.setAttribute("visibility", "hidden");
    }
    svg.addEventListener("mousemove", function (e) {
      var m = svg.getScreenCTM();
      if (!m) { return; }
      var q = new DOMPoint(e.clientX, e.clientY).matrixTransform(m.inverse());
      var reach = 12 / (m.a || 1), best = -1, bestD = reach * reach;
      for (var i = 0; i < pts.length; i++) {
        if (groups[i].classList.contains("off")) { continue; }
        var dx = xy[i][0] - q.x, dy = xy[i][1] - q.y, d = dx * dx + dy * dy;
        if (d <= bestD) { bestD = d; best = i; }
      }
      if (best < 0) { hide(); return; }
      var p = pts[best];
      ring.setAttribute("cx", xy[best][0]);
      ring.setAttribute("cy", xy[best][1]);
      ring.setAttribute("fill", p.getAttribute("fill"));
      ring.setAttribute("visibility", "visible");
      tip.textContent = p.getAttribute("data-tip");
      tip.hidden = false;
      var r = box.getBoundingClientRect();
      var x = e.clientX - r.left + 14, y = e.clientY - r.top + 14;
      if (x + tip.offsetWidth > r.width) { x = e.clientX - r.left - tip.offsetWidth - 14; }
      tip.style.left = Math.max(0, x) + "px";
      tip.style.top = y + "px";
    });
    svg.addEventListener("mouseleave", hide);
    Array.prototype.forEach.call(svg.querySelectorAll("g.legend-item"), function (item) {
      item.addEventListener("click", function () {
        var k = item.getAttribute("data-series");
        var g = svg.querySelector('g.series[data-series="' + k + '"]');
        if (!g) { return; }
        var off = !g.classList.contains("off");
        g.classList.toggle("off", off);
        item.classList.toggle("off", off);
        var label = svg.querySelector('text.lbl[data-series="' + k + '"]');
        if (label) { label.classList.toggle("off", off); }
        hide();
      });
    });
  }
  Array.prototype.forEach.call(document.querySelectorAll(".chart"), setup);
})();
