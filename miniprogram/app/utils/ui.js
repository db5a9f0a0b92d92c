// Small promise wrappers over wx interaction APIs, so pages read top to bottom.

/**
 * Ask before doing something that cannot be undone. Resolves true only on an explicit confirm.
 * WeChat limits button labels to 4 characters, so they are Chinese only; title and content are bilingual.
 */
function confirm({title, content, confirmText = '删除'}) {
  return new Promise((resolve) => {
    wx.showModal({
      title,
      content,
      confirmText,
      confirmColor: '#d93025',
      cancelText: '取消',
      success: (res) => resolve(Boolean(res && res.confirm)),
      fail: () => resolve(false),
    })
  })
}

function toast(title) {
  wx.showToast({title, icon: 'none', duration: 1500})
}

module.exports = {confirm, toast}
